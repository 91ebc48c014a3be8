// The delivery side of a running kiosk or `discbridge serve`: the outbox, the
// spool, the worker passes and the storage commitment listener, together.
#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include "discbridge/kiosk/config.h"
#include "discbridge/uplink/delivery.h"
#include "discbridge/uplink/outbox.h"
#include "discbridge/uplink/spool.h"

namespace discbridge::kiosk {

class DeliveryService {
 public:
  static Result<std::unique_ptr<DeliveryService>> open(const Config& cfg);
  ~DeliveryService();

  uplink::Outbox& outbox() { return *outbox_; }
  uplink::Spool& spool() { return spool_; }

  // Starts the commitment listener; a taken port is logged, not fatal.
  void startListener();
  // Runs passes until stop is set, or until `job` settles (every row final),
  // or, with untilIdle, until nothing is due and no report is awaited for
  // idleSeconds.
  void run(const std::atomic<bool>& stop, std::optional<std::int64_t> job, bool untilIdle = false, int idleSeconds = 10);

 private:
  DeliveryService(const Config& cfg, std::unique_ptr<uplink::Outbox> outbox);
  const Config& cfg_;
  std::unique_ptr<uplink::Outbox> outbox_;
  uplink::Spool spool_;
  uplink::Deliverer deliverer_;
  std::unique_ptr<uplink::CommitmentListener> listener_;
};

}  // namespace discbridge::kiosk
