#include "discbridge/uplink/delivery.h"

#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace discbridge::uplink {
namespace {

std::string newTransactionUid() {
  char uid[100];
  return dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
}

std::vector<std::int64_t> idsOf(const std::vector<DeliveryRow>& rows) {
  std::vector<std::int64_t> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r.id);
  return out;
}

SopRef refOf(const DeliveryRow& r) {
  return SopRef{r.instance.sopClassUid, r.instance.sopInstanceUid, r.instance.transferSyntaxUid};
}

}  // namespace

Result<PassResult> Deliverer::runOnce() {
  PassResult result;
  auto dests = outbox_.destinationsWithWork();
  if (!dests) return dests.error();
  for (const auto& name : *dests) {
    auto rows = outbox_.claim(name, batch_);
    if (!rows) return rows.error();
    if (rows->empty()) continue;
    auto dest = resolve_(name);
    result.handled += rows->size();
    if (!dest || (!dest->pacs && !dest->cloud)) {
      (void)outbox_.markFailed(idsOf(*rows), "destination '" + name + "' is not configured");
      continue;
    }
    if (dest->cloud) {
      deliverCloud(*dest->cloud, std::move(*rows), result);
    } else {
      deliverBatch(*dest->pacs, std::move(*rows), result);
    }
  }
  return result;
}

void Deliverer::deliverBatch(const PacsDestination& dest, std::vector<DeliveryRow> rows, PassResult& result) {
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  // 1. Which instances does the PACS hold already?
  {
    auto find = PacsAssociation::open(dest, {}, true);
    if (!find) {
      spdlog::warn("{}: {}", dest.name, find.error().message);
      // A rejected association is a configuration error (AE titles) more
      // often than a busy PACS: it stops here, the job is kept, and
      // `outbox retry` sends it again once the configuration is fixed.
      if (find.error().code == "ASSOCIATION_REJECTED" || find.error().code == "TLS_VERIFY") {
        (void)outbox_.markFailed(idsOf(rows), find.error().message);
      } else {
        (void)outbox_.markRetry(idsOf(rows), find.error().message, dest.maxAttempts);
      }
      return;
    }
    std::set<std::string> studies;
    for (const auto& r : rows) studies.insert(r.instance.studyUid);
    std::set<std::string> present;
    for (const auto& s : studies) {
      auto p = (*find)->present(s);
      if (!p) {
        (void)outbox_.markRetry(idsOf(rows), p.error().message, dest.maxAttempts);
        return;
      }
      present.insert(p->begin(), p->end());
    }
    std::vector<DeliveryRow> toSend;
    std::vector<std::int64_t> already;
    for (auto& r : rows) {
      if (present.count(r.instance.sopInstanceUid)) {
        already.push_back(r.id);
      } else {
        toSend.push_back(std::move(r));
      }
    }
    if (!already.empty()) {
      spdlog::info("{}: {} instances already present, not sent again", dest.name, already.size());
      (void)outbox_.markFinal(already, DeliveryState::Present);
    }
    rows = std::move(toSend);
  }
  spdlog::info("{}: pre-check of {} rows done after {:.2f} s", dest.name, rows.size(), elapsed());
  if (rows.empty()) return;

  // 2. The coercion plans of the jobs involved.
  std::map<std::int64_t, std::vector<PatientMapping>> plans;
  for (const auto& r : rows) {
    if (!plans.count(r.instance.job)) {
      auto m = outbox_.mappings(r.instance.job);
      plans[r.instance.job] = m ? *m : std::vector<PatientMapping>{};
    }
  }

  // 3. Parallel associations, each with its share of the rows.
  const std::size_t k = std::max<std::size_t>(1, std::min<std::size_t>(dest.associations, (rows.size() + 7) / 8));
  std::vector<std::vector<DeliveryRow>> shares(k);
  for (std::size_t i = 0; i < rows.size(); ++i) shares[i % k].push_back(std::move(rows[i]));
  std::mutex mu;
  auto work = [&](std::vector<DeliveryRow>& share) {
    std::vector<SopRef> content;
    for (const auto& r : share) content.push_back(refOf(r));
    auto assoc = PacsAssociation::open(dest, content);
    if (!assoc) {
      spdlog::warn("{}: {}", dest.name, assoc.error().message);
      (void)outbox_.markRetry(idsOf(share), assoc.error().message, dest.maxAttempts);
      return;
    }
    std::vector<DeliveryRow> stored;  // not yet asked to commit
    std::size_t storedTotal = 0;
    std::vector<std::string> asked;  // transactions requested on this association
    // Commitment is asked for in groups, so the PACS's reports for the first
    // groups come back while the rest is still being sent.
    auto commitGroup = [&] {
      if (stored.empty()) return;
      storedTotal += stored.size();
      std::string tx = dest.storageCommitment ? newTransactionUid() : "";
      (void)outbox_.markStored(idsOf(stored), tx);  // recorded before the request goes out
      if (!dest.storageCommitment) {
        (void)outbox_.markFinal(idsOf(stored), DeliveryState::Delivered);
      } else {
        std::vector<SopRef> refs;
        for (const auto& r : stored) refs.push_back(refOf(r));
        auto requested = (*assoc)->requestCommitment(tx, refs);
        if (requested && !*requested) {
          // Not negotiated: a successful C-STORE is all this PACS offers.
          (void)outbox_.markFinal(idsOf(stored), DeliveryState::Delivered);
        } else if (!requested) {
          spdlog::warn("{}: {}", dest.name, requested.error().message);  // chased later
        } else {
          asked.push_back(tx);
        }
      }
      stored.clear();
    };
    for (std::size_t i = 0; i < share.size(); ++i) {
      auto& r = share[i];
      const PatientMapping* mapping = nullptr;
      for (const auto& m : plans[r.instance.job]) {
        if (m.foreignId == r.instance.foreignPatientId && m.foreignIssuer == r.instance.foreignIssuer) mapping = &m;
      }
      if (mapping == nullptr) {
        (void)outbox_.markFailed({r.id}, "no confirmed local patient for patient ID " + r.instance.foreignPatientId);
        continue;
      }
      DcmFileFormat ff;
      OFCondition c = ff.loadFile(r.instance.spoolPath.c_str());
      if (c.bad()) {
        (void)outbox_.markFailed({r.id}, "the spooled copy cannot be read: " + std::string(c.text()));
        continue;
      }
      if (auto co = reconcile::applyCoercion(*ff.getDataset(), mapping->plan, reconcile::dicomNow()); !co) {
        (void)outbox_.markFailed({r.id}, co.error().message);
        continue;
      }
      StoreOutcome o = (*assoc)->store(*ff.getDataset(), refOf(r));
      if (o.result == StoreResult::Stored) {
        stored.push_back(r);
        // A PACS that reports on this association could send its report
        // between our C-STOREs; asking once, after the last, keeps the two apart.
        if (stored.size() >= 200 && !dest.commitmentOnAssociation) commitGroup();
      } else if (o.result == StoreResult::Permanent) {
        (void)outbox_.markFailed({r.id}, o.message);
      } else {
        // The association is gone: this row and the rest of the share retry later.
        // Rows stored since the last commitment request go back too: the
        // pre-check of the next pass finds them present.
        std::vector<std::int64_t> rest = idsOf(stored);
        for (std::size_t j = i; j < share.size(); ++j) rest.push_back(share[j].id);
        (void)outbox_.markRetry(rest, o.message, dest.maxAttempts);
        stored.clear();
        break;
      }
    }
    commitGroup();
    // Some PACS report on this association before releasing it; others open
    // one to our listener. Wait briefly for either, whichever comes.
    if (!dest.commitmentOnAssociation) asked.clear();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    auto answered = [&] {
      std::erase_if(asked, [&](const std::string& tx) {
        auto n = outbox_.awaitingCommitment(tx);
        return n && *n == 0;
      });
      return asked.empty();
    };
    while (!asked.empty() && std::chrono::steady_clock::now() < deadline) {
      // The listener usually has the report within a few hundred ms; only
      // then is the association itself listened on (DCMTK waits whole seconds).
      for (int i = 0; i < 35 && !answered(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (asked.empty()) break;
      if (auto report = (*assoc)->awaitReport(1)) {
        spdlog::info("{}: storage commitment report on the association: {} committed, {} failed", dest.name,
                     report->committed.size(), report->failed.size());
        (void)outbox_.commitmentResult(report->transactionUid, report->committed, report->failed);
      }
    }
    std::lock_guard lock(mu);
    result.stored += storedTotal;
    spdlog::info("{}: {} instances stored on one association after {:.2f} s", dest.name, storedTotal, elapsed());
  };
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < k; ++i) threads.emplace_back(work, std::ref(shares[i]));
  work(shares[0]);
  for (auto& t : threads) t.join();
}

Result<void> Deliverer::chaseCommitments() {
  auto overdueAll = outbox_.overdueCommitments(5);
  if (!overdueAll) return overdueAll.error();
  std::map<std::string, std::vector<DeliveryRow>> byDest;
  for (auto& r : *overdueAll) byDest[r.destination].push_back(std::move(r));
  for (auto& [name, rows] : byDest) {
    auto resolved = resolve_(name);
    if (!resolved || !resolved->pacs) continue;
    const PacsDestination& dest = *resolved->pacs;
    std::vector<DeliveryRow> due;
    std::vector<std::int64_t> givenUp;
    // Only rows whose wait exceeded this destination's own timeout.
    auto overdue = outbox_.overdueCommitments(dest.commitTimeoutSeconds);
    if (!overdue) return overdue.error();
    std::set<std::int64_t> late;
    for (const auto& r : *overdue) late.insert(r.id);
    for (auto& r : rows) {
      if (!late.count(r.id)) continue;
      if (r.attempts >= dest.maxAttempts) {
        givenUp.push_back(r.id);
      } else {
        due.push_back(std::move(r));
      }
    }
    if (!givenUp.empty()) {
      (void)outbox_.markFailed(givenUp, "the PACS stored the instance but never confirmed storage commitment");
    }
    if (due.empty()) continue;
    auto assoc = PacsAssociation::open(dest, {});
    if (!assoc) continue;  // asked again on the next pass
    std::string tx = newTransactionUid();
    (void)outbox_.markCommitRequested(idsOf(due), tx);
    std::vector<SopRef> refs;
    for (const auto& r : due) refs.push_back(refOf(r));
    auto asked = (*assoc)->requestCommitment(tx, refs);
    if (asked && !*asked) (void)outbox_.markFinal(idsOf(due), DeliveryState::Delivered);
  }
  return {};
}

namespace {

// The coerced instance as a Part 10 byte string, for an HTTP body.
Result<std::string> serialise(DcmFileFormat& ff) {
  std::vector<char> buf(1 << 20);
  DcmOutputBufferStream os(buf.data(), static_cast<offile_off_t>(buf.size()));
  std::string out;
  E_TransferSyntax xfer = ff.getDataset()->getOriginalXfer();
  if (xfer == EXS_Unknown) xfer = EXS_LittleEndianExplicit;
  ff.transferInit();
  OFCondition c = EC_StreamNotifyClient;
  while (c == EC_StreamNotifyClient) {
    c = ff.write(os, xfer, EET_ExplicitLength, nullptr);
    void* p = nullptr;
    offile_off_t n = 0;
    os.flushBuffer(p, n);
    out.append(static_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  ff.transferEnd();
  if (c.bad()) return makeError("ENCODE_FAILED", std::string("cannot encode the instance: ") + c.text());
  return out;
}

}  // namespace

void Deliverer::deliverCloud(const CloudDestination& dest, std::vector<DeliveryRow> rows, PassResult& result) {
  std::map<std::int64_t, std::vector<PatientMapping>> plans;
  for (const auto& r : rows) {
    if (!plans.count(r.instance.job)) {
      auto m = outbox_.mappings(r.instance.job);
      plans[r.instance.job] = m ? *m : std::vector<PatientMapping>{};
    }
  }
  std::map<std::string, std::vector<DeliveryRow>> byStudy;
  for (auto& r : rows) byStudy[r.instance.studyUid].push_back(std::move(r));
  // Each connection takes every k-th batch-sized slice of every study.
  const std::size_t k = static_cast<std::size_t>(std::clamp(dest.connections, 1, 3));
  std::mutex mu;
  auto work = [&](std::size_t lane) {
    StowClient client(dest);
    for (auto& [study, studyRows] : byStudy) {
      std::size_t i = 0;
      std::size_t slice = 0;
      while (i < studyRows.size()) {
        // One batch: bounded by bytes and by count, never a whole study in memory.
        std::size_t begin = i;
        std::size_t bytes = 0;
        while (i < studyRows.size() && i - begin < dest.batchInstances && bytes < dest.batchBytes) {
          bytes += studyRows[i].instance.size;
          ++i;
        }
        if (slice++ % k != lane) continue;
        std::vector<StowPart> parts;
        std::vector<DeliveryRow*> sent;
        for (std::size_t j = begin; j < i; ++j) {
          auto& r = studyRows[j];
          const PatientMapping* mapping = nullptr;
          for (const auto& m : plans[r.instance.job]) {
            if (m.foreignId == r.instance.foreignPatientId && m.foreignIssuer == r.instance.foreignIssuer) mapping = &m;
          }
          DcmFileFormat ff;
          if (mapping == nullptr) {
            (void)outbox_.markFailed({r.id}, "no confirmed local patient for patient ID " + r.instance.foreignPatientId);
            continue;
          }
          if (OFCondition c = ff.loadFile(r.instance.spoolPath.c_str()); c.bad()) {
            (void)outbox_.markFailed({r.id}, "the spooled copy cannot be read: " + std::string(c.text()));
            continue;
          }
          if (auto co = reconcile::applyCoercion(*ff.getDataset(), mapping->plan, reconcile::dicomNow()); !co) {
            (void)outbox_.markFailed({r.id}, co.error().message);
            continue;
          }
          auto bytesOf = serialise(ff);
          if (!bytesOf) {
            (void)outbox_.markFailed({r.id}, bytesOf.error().message);
            continue;
          }
          parts.push_back(StowPart{r.instance.sopInstanceUid, std::move(*bytesOf)});
          sent.push_back(&r);
        }
        if (parts.empty()) continue;
        std::vector<std::int64_t> ids;
        for (auto* r : sent) ids.push_back(r->id);
        auto outcome = client.post(study, std::move(parts));
        if (!outcome) {
          spdlog::warn("{}: {}", dest.name, outcome.error().message);
          if (!outcome.error().retryable) {
            (void)outbox_.markFailed(ids, outcome.error().message);
          } else if (client.retryAfterSeconds() > 0) {
            (void)outbox_.markRetryAfter(ids, outcome.error().message, client.retryAfterSeconds(), dest.maxAttempts);
          } else {
            (void)outbox_.markRetry(ids, outcome.error().message, dest.maxAttempts);
          }
          continue;
        }
        std::vector<std::int64_t> ok;
        for (std::size_t n = 0; n < sent.size(); ++n) {
          const auto& o = (*outcome)[n];
          if (o.stored) {
            ok.push_back(sent[n]->id);
          } else if (o.retryable) {
            (void)outbox_.markRetry({sent[n]->id}, o.reason, dest.maxAttempts);
          } else {
            (void)outbox_.markFailed({sent[n]->id}, o.reason);
          }
        }
        // STOW-RS has no storage commitment: a stored answer is delivery.
        (void)outbox_.markFinal(ok, DeliveryState::Delivered);
        std::lock_guard lock(mu);
        result.stored += ok.size();
      }
    }
  };
  std::vector<std::thread> lanes;
  for (std::size_t lane = 1; lane < k; ++lane) lanes.emplace_back(work, lane);
  work(0);
  for (auto& t : lanes) t.join();
}

Result<std::size_t> Deliverer::cleanSpool() {
  auto files = outbox_.takeFinishedSpoolFiles();
  if (!files) return files.error();
  for (const auto& f : *files) spool_.remove(f);
  return files->size();
}

}  // namespace discbridge::uplink
