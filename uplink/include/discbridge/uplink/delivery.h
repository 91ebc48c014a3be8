// The delivery worker: takes due rows from the outbox, sends them to their
// destination (C-FIND pre-check, coercion on the way out, C-STORE over
// parallel associations, storage commitment), records every outcome.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "discbridge/uplink/cloud.h"
#include "discbridge/uplink/outbox.h"
#include "discbridge/uplink/pacs.h"
#include "discbridge/uplink/spool.h"

namespace discbridge::uplink {

// A named destination is a PACS (DICOM) or a cloud (DICOMweb STOW-RS).
struct Destination {
  std::optional<PacsDestination> pacs;
  std::optional<CloudDestination> cloud;
};
using DestinationResolver = std::function<std::optional<Destination>(const std::string& name)>;

struct PassResult {
  std::size_t handled = 0;
  std::size_t stored = 0;
};

class Deliverer {
 public:
  Deliverer(Outbox& outbox, Spool& spool, DestinationResolver resolve, std::size_t batch = 4096)
      : outbox_(outbox), spool_(spool), resolve_(std::move(resolve)), batch_(batch) {}

  // Delivers what is due now, one batch per destination.
  Result<PassResult> runOnce();
  // Asks again for storage commitment where the report is overdue.
  Result<void> chaseCommitments();
  // Deletes spool files every destination has confirmed.
  Result<std::size_t> cleanSpool();

 private:
  void deliverBatch(const PacsDestination& dest, std::vector<DeliveryRow> rows, PassResult& result);
  void deliverCloud(const CloudDestination& dest, std::vector<DeliveryRow> rows, PassResult& result);
  Outbox& outbox_;
  Spool& spool_;
  DestinationResolver resolve_;
  std::size_t batch_;
};

}  // namespace discbridge::uplink
