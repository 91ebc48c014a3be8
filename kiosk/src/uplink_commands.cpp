// import, outbox, serve: the delivery side of the command line.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <thread>

#include "cli_common.h"
#include "wiring.h"
#include "discbridge/kiosk/audit.h"
#include "discbridge/kiosk/delivery_service.h"
#include "discbridge/reconcile/coercion.h"
#include "discbridge/reconcile/sqlite_directory.h"

namespace discbridge::kiosk {
namespace {

using nlohmann::json;

std::atomic<bool> gStop{false};
void onSignal(int) { gStop = true; }

json statusJson(const uplink::JobStatus& j) {
  json counts = json::object();
  for (const auto& [state, n] : j.counts) counts[state] = n;
  return {{"job", j.id},           {"created", j.created}, {"source", j.source},
          {"volume_id", j.volumeId}, {"confirmed_by", j.confirmedBy}, {"destinations", j.destinations},
          {"counts", counts},      {"errors", j.errors},   {"study_instance_uids", j.studyUids}};
}

void printStatus(const uplink::JobStatus& j) {
  std::printf("job %lld  %s  from %s%s%s  to", static_cast<long long>(j.id), j.created.c_str(), j.source.c_str(),
              j.volumeId.empty() ? "" : " volume ", j.volumeId.c_str());
  for (const auto& d : j.destinations) std::printf(" %s", d.c_str());
  std::printf("\n   ");
  for (const auto& [state, n] : j.counts) std::printf(" %s %lld", state.c_str(), static_cast<long long>(n));
  std::printf("\n");
  for (const auto& e : j.errors) std::printf("    error: %s\n", e.c_str());
}

bool isDrive(const std::string& source) {
  std::error_code ec;
  return source == "drive:" || std::filesystem::is_block_file(source, ec);
}

}  // namespace

int cmdImport(const Config& cfg, const ImportArgs& a) {
  // Destinations first: a typo fails before anything is read.
  for (const auto& d : a.destinations) {
    if (auto r = cfg.destination(d); !r) {
      std::fprintf(stderr, "discbridge: %s\n", r.error().message.c_str());
      return kUsage;
    }
  }
  std::map<std::string, std::string> mapping;  // foreign ID -> MRN
  for (const auto& p : a.patients) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == p.size()) {
      std::fprintf(stderr, "discbridge: --patient takes FOREIGN_ID=LOCAL_MRN, not '%s'\n", p.c_str());
      return kUsage;
    }
    mapping[p.substr(0, eq)] = p.substr(eq + 1);
  }
  std::unique_ptr<ingest::Medium> medium;
  int status = kOk;
  auto report = openAndScan(cfg, a.source, medium, status);
  if (!report) return status;

  spdlog::info("{}: {} importable instances found", a.source, report->summary.instances);
  auto dir = reconcile::SqliteDirectory::open(cfg.mpiDatabase());
  if (!dir) {
    std::fprintf(stderr, "discbridge: %s\n", dir.error().message.c_str());
    return kFailure;
  }
  auto coercion = coercionSettings(cfg);
  if (!coercion) {
    std::fprintf(stderr, "discbridge: %s\n", coercion.error().message.c_str());
    return kUsage;
  }
  const reconcile::CoercionSettings& settings = *coercion;

  uplink::JobSpec spec;
  spec.source = a.source;
  spec.volumeId = report->volumeId;
  spec.confirmedBy = !a.confirmedBy.empty() ? a.confirmedBy : (std::getenv("USER") ? std::getenv("USER") : "");
  spec.destinations = a.destinations;
  std::set<std::string> used;
  std::vector<const ingest::PatientOnMedium*> chosen;
  for (const auto& p : report->patients) {
    auto it = mapping.find(p.patientId);
    if (it == mapping.end()) {
      std::fprintf(stderr, "discbridge: patient %s (%s) not imported: no --patient %s=MRN confirms who it is\n",
                   p.patientId.c_str(), p.name.c_str(), p.patientId.c_str());
      continue;
    }
    auto plan = reconcile::makePlan(**dir, p.patientId, p.issuer, it->second, cfg.mpi.defaultIssuer, settings);
    if (!plan) {
      std::fprintf(stderr, "discbridge: %s\n", plan.error().message.c_str());
      return kUsage;
    }
    used.insert(it->first);
    spec.mappings.push_back(uplink::PatientMapping{p.patientId, p.issuer, *plan});
    chosen.push_back(&p);
  }
  for (const auto& [foreign, mrn] : mapping) {
    if (!used.count(foreign)) {
      std::fprintf(stderr, "discbridge: patient ID %s is not on this medium\n", foreign.c_str());
      return kUsage;
    }
  }
  auto selected = instancesInDiscOrder(*report, [&](const ingest::PatientOnMedium& p, const ingest::StudyOnMedium& s) {
    return std::find(chosen.begin(), chosen.end(), &p) != chosen.end() &&
           (a.studies.empty() || std::find(a.studies.begin(), a.studies.end(), s.studyInstanceUid) != a.studies.end());
  });
  if (selected.empty()) {
    std::fprintf(stderr, "discbridge: nothing to import (no confirmed patient or no matching study)\n");
    return kNoImportable;
  }

  auto service = DeliveryService::open(cfg);
  if (!service) {
    std::fprintf(stderr, "discbridge: %s\n", service.error().message.c_str());
    return kFailure;
  }
  auto& outbox = (*service)->outbox();
  saveUrlOptions(cfg, outbox, a.destinations);
  auto job = outbox.createJob(spec);
  if (!job) {
    std::fprintf(stderr, "discbridge: %s\n", job.error().message.c_str());
    return kFailure;
  }
  // Delivery starts while the disc is still being copied: each chunk is
  // flushed to disk and recorded before its delivery rows exist.
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  std::thread delivery;
  if (!a.queueOnly) {
    (*service)->startListener();
    delivery = std::thread([&] { (*service)->run(gStop, *job, !a.wait, 15); });
  }
  auto finish = [&](int rc) {
    if (rc != kOk) gStop = true;
    if (delivery.joinable()) delivery.join();
    return rc;
  };
  std::vector<uplink::InstanceRow> batch;
  std::uint64_t batchBytes = 0;
  for (std::size_t k = 0; k < selected.size(); ++k) {
    const auto& inst = *selected[k].instance;
    auto spooled = (*service)->spool().add(*medium, inst, *job, false);
    if (!spooled) {
      std::fprintf(stderr, "discbridge: %s: %s\n", inst.path.c_str(), spooled.error().message.c_str());
      return finish(kFailure);
    }
    uplink::InstanceRow row = instanceRow(selected[k], *spooled);
    batchBytes += row.size;
    batch.push_back(std::move(row));
    // A small first chunk lets the first association open early.
    const std::size_t chunk = k < 64 ? 16 : 128;
    if (batch.size() >= chunk || batchBytes >= (48u << 20) || k + 1 == selected.size()) {
      std::vector<std::string> paths;
      for (const auto& b : batch) paths.push_back(b.spoolPath);
      auto synced = (*service)->spool().sync(paths);
      Result<void> added = synced ? outbox.addInstances(*job, batch) : synced;
      Result<void> queued = added ? outbox.queueInstances(*job, batch) : added;
      if (!queued) {
        std::fprintf(stderr, "discbridge: %s\n", queued.error().message.c_str());
        return finish(kFailure);
      }
      batch.clear();
      batchBytes = 0;
    }
  }
  if (auto r = outbox.queueJob(*job); !r) {
    std::fprintf(stderr, "discbridge: %s\n", r.error().message.c_str());
    return finish(kFailure);
  }
  // The foreign ID is now known for these local patients: the next disc from
  // the same hospital finds them by it.
  for (const auto& m : spec.mappings) {
    if (!m.foreignId.empty()) (void)(*dir)->addOtherId(m.plan.local.mrn, m.plan.local.issuer, {m.foreignId, m.foreignIssuer});
  }
  spdlog::info("job {}: {} instances spooled; the disc is no longer needed", *job, selected.size());
  medium.reset();
  if (isDrive(a.source)) {
    if (auto r = ingest::ejectDrive(a.source == "drive:" ? "" : a.source); !r) spdlog::warn("{}", r.error().message);
  }
  finish(kOk);

  auto st = outbox.status(*job);
  auto ok = outbox.jobSucceeded(*job);
  if (a.json && st && !st->empty()) {
    std::cout << statusJson(st->front()).dump(2) << "\n";
  } else if (st && !st->empty()) {
    printStatus(st->front());
  }
  if (!a.wait || a.queueOnly) return kOk;
  return ok && *ok ? kOk : kFailure;
}

int cmdOutbox(const Config& cfg, const std::string& action, std::int64_t job, bool jsonOut) {
  auto service = DeliveryService::open(cfg);
  if (!service) {
    std::fprintf(stderr, "discbridge: %s\n", service.error().message.c_str());
    return kFailure;
  }
  auto& outbox = (*service)->outbox();
  if (action == "retry") {
    auto n = outbox.retryFailed(job);
    if (!n) {
      std::fprintf(stderr, "discbridge: %s\n", n.error().message.c_str());
      return kFailure;
    }
    std::printf("job %lld: %d failed deliveries queued again\n", static_cast<long long>(job), *n);
    return kOk;
  }
  if (action == "purge") {
    // Who and what first: a purge that cannot be audited does not happen.
    auto audit = AuditTrail::open(cfg.auditFile(), cfg.auditSourceId());
    if (!audit) {
      std::fprintf(stderr, "discbridge: %s\n", audit.error().message.c_str());
      return kFailure;
    }
    auto before = outbox.status(job);
    auto maps = outbox.mappings(job);
    AuditEvent event;
    event.type = AuditEventType::StudyDeleted;
    event.user = std::getenv("USER") ? std::getenv("USER") : "operator";
    if (maps && before && !before->empty()) {
      for (const auto& m : *maps) event.patients.push_back({m.plan.local.mrn, m.plan.local.issuer, {}, before->front().studyUids});
    }
    auto paths = outbox.purge(job);
    if (!paths) {
      std::fprintf(stderr, "discbridge: %s\n", paths.error().message.c_str());
      return kFailure;
    }
    (*service)->spool().removeJob(job);
    event.detail = "outbox job " + std::to_string(job) + " purged, " + std::to_string(paths->size()) +
                   " spooled instances deleted";
    if (auto r = (*audit)->record(event); !r) {
      std::fprintf(stderr, "discbridge: %s\n", r.error().message.c_str());
      return kFailure;
    }
    std::printf("job %lld purged, %zu spooled instances deleted\n", static_cast<long long>(job), paths->size());
    return kOk;
  }
  auto st = outbox.status(job > 0 ? std::optional<std::int64_t>(job) : std::nullopt);
  if (!st) {
    std::fprintf(stderr, "discbridge: %s\n", st.error().message.c_str());
    return kFailure;
  }
  if (jsonOut) {
    json arr = json::array();
    for (const auto& j : *st) arr.push_back(statusJson(j));
    std::cout << json{{"jobs", arr}}.dump(2) << "\n";
  } else {
    if (st->empty()) std::puts("outbox empty");
    for (const auto& j : *st) printStatus(j);
  }
  return kOk;
}

int cmdAuditVerify(const Config& cfg, bool jsonOut) {
  auto v = AuditTrail::verify(cfg.auditFile());
  if (!v) {
    std::fprintf(stderr, "discbridge: %s\n", v.error().message.c_str());
    return kFailure;
  }
  if (jsonOut) {
    std::cout << json{{"file", cfg.auditFile()}, {"records", v->records}, {"intact", v->intact}, {"problem", v->problem}}.dump(2)
              << "\n";
  } else if (v->intact) {
    std::printf("%s: %zu records, chain intact\n", cfg.auditFile().c_str(), v->records);
  } else {
    std::printf("%s: BROKEN at %s\n", cfg.auditFile().c_str(), v->problem.c_str());
  }
  return v->intact ? kOk : kFailure;
}

int cmdAuditForward(const Config& cfg) {
  auto target = cfg.auditTarget();
  if (!target) {
    std::fprintf(stderr, "discbridge: [kiosk] audit_syslog: %s\n", target.error().message.c_str());
    return kUsage;
  }
  AuditForwarder f(cfg.auditFile(), *target, cfg.auditSourceId());
  std::size_t total = 0;
  for (;;) {
    auto sent = f.forwardPending();
    if (!sent) {
      std::fprintf(stderr, "discbridge: %s (%zu sent, the rest stay queued)\n", sent.error().message.c_str(), total);
      return kFailure;
    }
    total += *sent;
    if (*sent == 0) break;
  }
  std::printf("%zu audit records forwarded to %s (up to record %lld)\n", total, cfg.kiosk.auditSyslog.c_str(), f.forwarded());
  return kOk;
}

int cmdServe(const Config& cfg) {
  auto service = DeliveryService::open(cfg);
  if (!service) {
    std::fprintf(stderr, "discbridge: %s\n", service.error().message.c_str());
    return kFailure;
  }
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  (*service)->startListener();
  spdlog::info("delivering from {} (stop with SIGTERM)", cfg.outboxDb());
  (*service)->run(gStop, std::nullopt);
  return kOk;
}

}  // namespace discbridge::kiosk
