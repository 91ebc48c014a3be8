#include "discbridge/kiosk/delivery_service.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <thread>

namespace discbridge::kiosk {

DeliveryService::DeliveryService(const Config& cfg, std::unique_ptr<uplink::Outbox> outbox)
    : cfg_(cfg),
      outbox_(std::move(outbox)),
      spool_(cfg.spoolDir()),
      deliverer_(*outbox_, spool_, [this](const std::string& name) -> std::optional<uplink::Destination> {
        auto d = cfg_.destination(name);
        if (!d) return std::nullopt;
        // A URL destination: the options its import was given on the command line.
        if (d->cloud && d->cloud->name == name && d->cloud->caFile.empty() && d->cloud->auth == "none") {
          auto saved = outbox_->urlOptions(name);
          auto j = nlohmann::json::parse(saved ? *saved : std::string(), nullptr, false);
          if (j.is_object()) {
            d->cloud->caFile = j.value("ca_file", "");
            d->cloud->auth = j.value("auth", "none");
            d->cloud->user = j.value("user", "");
            d->cloud->password = j.value("password", "");
            d->cloud->token = j.value("token", "");
          }
        }
        return *d;
      }) {}

DeliveryService::~DeliveryService() {
  if (listener_) listener_->stop();
}

Result<std::unique_ptr<DeliveryService>> DeliveryService::open(const Config& cfg) {
  std::error_code ec;
  std::filesystem::create_directories(cfg.spoolDir(), ec);
  std::filesystem::create_directories(std::filesystem::path(cfg.outboxDb()).parent_path(), ec);
  auto outbox = uplink::Outbox::open(cfg.outboxDb());
  if (!outbox) return outbox.error();
  if (auto r = (*outbox)->recoverInterrupted(); r && *r > 0) {
    spdlog::info("{} deliveries interrupted by a stop are queued again", *r);
  }
  return std::unique_ptr<DeliveryService>(new DeliveryService(cfg, std::move(*outbox)));
}

void DeliveryService::startListener() {
  if (listener_) return;
  listener_ = std::make_unique<uplink::CommitmentListener>(
      cfg_.delivery.aeTitle, cfg_.delivery.listenerPort,
      [this](const std::string& tx, const std::vector<std::string>& ok, const std::vector<std::string>& failed) {
        if (auto r = outbox_->commitmentResult(tx, ok, failed); !r) spdlog::error("outbox: {}", r.error().message);
      });
  if (auto r = listener_->start(); !r) {
    spdlog::warn("storage commitment listener: {}", r.error().message);
    listener_.reset();
  } else {
    spdlog::info("storage commitment listener: AE {} on port {}", cfg_.delivery.aeTitle, cfg_.delivery.listenerPort);
  }
}

void DeliveryService::run(const std::atomic<bool>& stop, std::optional<std::int64_t> job, bool untilIdle,
                          int idleSeconds) {
  using clock = std::chrono::steady_clock;
  auto lastActivity = clock::now();
  while (!stop.load()) {
    auto pass = deliverer_.runOnce();
    if (!pass) spdlog::error("delivery: {}", pass.error().message);
    (void)deliverer_.chaseCommitments();
    (void)deliverer_.cleanSpool();
    if (job) {
      auto settled = outbox_->jobSettled(*job);
      if (settled && *settled) break;
    }
    // Progress is a stored instance; rows only failing again are no reason
    // for a run that was asked to stop when idle to keep going.
    bool busy = pass && (untilIdle ? pass->stored > 0 : pass->handled > 0);
    if (busy) lastActivity = clock::now();
    if (untilIdle && clock::now() - lastActivity > std::chrono::seconds(idleSeconds)) break;
    if (!busy) std::this_thread::sleep_for(std::chrono::milliseconds(job ? 20 : 200));
  }
  (void)deliverer_.cleanSpool();
}

}  // namespace discbridge::kiosk
