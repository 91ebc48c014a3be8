#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "discbridge/ingest/fileset.h"
#include "discbridge/ingest/thumbnail.h"
#include "discbridge/kiosk/audit.h"
#include "discbridge/kiosk/delivery_service.h"
#include "discbridge/kiosk/session.h"
#include "discbridge/uplink/spool.h"
#include "media_watch.h"
#include "session_store.h"
#include "wiring.h"

namespace fs = std::filesystem;

namespace discbridge::kiosk {
namespace {

using Clock = std::chrono::steady_clock;

struct StateName {
  SessionState state;
  const char* name;
};
constexpr StateName kStateNames[] = {
    {SessionState::Reading, "reading"},
    {SessionState::Spooled, "spooled"},
    {SessionState::AwaitingConfirmation, "awaiting_confirmation"},
    {SessionState::Queued, "queued"},
    {SessionState::Delivering, "delivering"},
    {SessionState::Done, "done"},
    {SessionState::Unreadable, "unreadable"},
    {SessionState::NoDicom, "no_dicom"},
    {SessionState::DeliveryFailed, "delivery_failed"},
    {SessionState::Rejected, "rejected"},
};

constexpr const char* kDefaultStaffUser = "staff";
constexpr const char* kDefaultStaffPin = "2468";

bool isDevice(const std::string& source) {
  std::error_code ec;
  return source.rfind("drive:", 0) == 0 || fs::is_block_file(source, ec) || fs::is_character_file(source, ec);
}

std::string folderFor(std::int64_t id) { return "session-" + std::to_string(id); }

std::vector<PatientSummary> summarise(const ingest::FileSetReport& report) {
  std::vector<PatientSummary> out;
  for (const auto& p : report.patients) {
    PatientSummary s{p.patientId, p.issuer, p.name, p.birthDate, p.sex, {}, reconcile::conflicts(p)};
    for (const auto& st : p.studies) {
      StudySummary ss;
      ss.uid = st.studyInstanceUid;
      ss.date = st.studyDate;
      ss.description = st.description;
      for (const auto& m : st.modalities) ss.modalities += (ss.modalities.empty() ? "" : "/") + m;
      ss.series = st.series.size();
      for (const auto& se : st.series) ss.instances += se.instances.size();
      s.studies.push_back(std::move(ss));
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<AuditPatient> auditPatients(const std::vector<PatientSummary>& patients) {
  std::vector<AuditPatient> out;
  for (const auto& p : patients) {
    AuditPatient a{p.patientId, p.issuer, p.name, {}};
    for (const auto& s : p.studies) a.studyUids.push_back(s.uid);
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

const char* sessionStateName(SessionState s) {
  for (const auto& n : kStateNames) {
    if (n.state == s) return n.name;
  }
  return "unknown";
}

std::optional<SessionState> parseSessionState(const std::string& s) {
  for (const auto& n : kStateNames) {
    if (s == n.name) return n.state;
  }
  return std::nullopt;
}

bool rejectable(SessionState s) {
  return s == SessionState::Spooled || s == SessionState::AwaitingConfirmation || s == SessionState::Unreadable ||
         s == SessionState::NoDicom || s == SessionState::DeliveryFailed;
}

std::string staffPinHash(const std::string& user, const std::string& pin) { return uplink::sha256Hex(user + ":" + pin); }

struct SessionManager::Impl {
  Config cfg;
  Options options;
  std::unique_ptr<SessionStore> store;
  std::unique_ptr<DeliveryService> service;
  std::unique_ptr<AuditTrail> audit;
  Listener listener;

  std::mutex mu;  // queues, progress, lockout
  std::condition_variable wake;
  bool stopping = false;
  bool started = false;
  std::deque<std::pair<std::int64_t, std::string>> reads;
  std::deque<std::function<void()>> actions;
  std::atomic<bool> stopDelivery{false};
  std::atomic<bool> stopForwarding{false};  // after the last record of a run
  std::thread watcher, reader, worker, delivery, forwarder;

  struct Rate {
    Clock::time_point start = Clock::now();
    Clock::time_point lastStored{};
    Clock::time_point lastShown{};
    SessionProgress progress;
  };
  std::map<std::int64_t, Rate> rates;
  std::set<std::string> devicesBusy;

  int failedPins = 0;
  Clock::time_point lockedUntil{};

  bool stopRequested() {
    std::lock_guard lock(mu);
    return stopping;
  }

  void record(const AuditEvent& e) {
    if (auto r = audit->record(e); !r) spdlog::error("audit: {}", r.error().message);
  }

  SessionInfo withLive(SessionInfo info) {
    {
      std::lock_guard lock(mu);
      if (auto it = rates.find(info.id); it != rates.end() && info.state == SessionState::Reading) {
        info.progress = it->second.progress;
      }
    }
    if (!info.jobs.empty()) {
      std::map<std::string, std::int64_t> counts;
      std::set<std::string> errors;
      for (auto job : info.jobs) {
        auto st = service->outbox().status(job);
        if (!st || st->empty()) continue;
        for (const auto& [state, n] : st->front().counts) counts[state] += n;
        for (const auto& e : st->front().errors) errors.insert(e);
      }
      info.deliveryCounts.assign(counts.begin(), counts.end());
      info.deliveryErrors.assign(errors.begin(), errors.end());
    }
    return info;
  }

  void notify(std::int64_t id) {
    if (!listener) return;
    if (auto info = store->get(id)) listener(withLive(std::move(*info)));
  }

  void setState(std::int64_t id, SessionState state, const std::string& message = {}) {
    if (auto r = store->setState(id, state, message); !r) spdlog::error("session {}: {}", id, r.error().message);
    spdlog::info("session {}: {}{}{}", id, sessionStateName(state), message.empty() ? "" : ": ", message);
    notify(id);
  }

  void progress(std::int64_t id, const SessionProgress& p) {
    SessionProgress shown = p;
    bool store_ = false, show = false;
    {
      std::lock_guard lock(mu);
      auto& r = rates[id];
      const double secs = std::chrono::duration<double>(Clock::now() - r.start).count();
      if (secs > 0.2 && p.bytesDone > 0) {
        shown.bytesPerSecond = static_cast<double>(p.bytesDone) / secs;
        shown.secondsLeft = static_cast<double>(p.bytesTotal > p.bytesDone ? p.bytesTotal - p.bytesDone : 0) /
                            shown.bytesPerSecond;
      }
      r.progress = shown;
      // The screen needs a few updates a second, the database fewer.
      if (Clock::now() - r.lastStored > std::chrono::milliseconds(500)) {
        r.lastStored = Clock::now();
        store_ = true;
      }
      if (Clock::now() - r.lastShown > std::chrono::milliseconds(100) || p.bytesDone >= p.bytesTotal) {
        r.lastShown = Clock::now();
        show = true;
      }
    }
    if (store_) (void)store->setProgress(id, shown);
    if (show) notify(id);
  }

  void eject(const std::string& source) {
    if (!isDevice(source)) return;  // an image in the watched folder stays where it is
    if (auto r = ingest::ejectDrive(source == "drive:" ? "" : source); !r) spdlog::warn("eject: {}", r.error().message);
  }

  void releaseDevice(const std::string& source) {
    std::lock_guard lock(mu);
    devicesBusy.erase(source);
  }

  // Reads one disc into the spool: the patient waits for this and no more.
  void read(std::int64_t id, const std::string& source) {
    auto fail = [&](SessionState st, const std::string& msg) {
      setState(id, st, msg);
      eject(source);
      releaseDevice(source);
    };
    ingest::MediumOptions mo;
    mo.readRetries = cfg.ingest.readRetries;
    auto medium = ingest::openMedium(source, mo);
    if (!medium) {
      return fail(SessionState::Unreadable, "This disc could not be read (" + medium.error().message + ").");
    }
    auto opts = scanOptions(cfg);
    opts.progress = [&](const ingest::ScanProgress& p) {
      // Until the scan knows how much is DICOM, assume all of it will be
      // copied as well.
      progress(id, SessionProgress{p.filesDone, p.filesTotal, p.bytesDone, p.bytesTotal * 2, 0, -1});
    };
    auto report = ingest::scanMedium(**medium, source, opts);
    if (!report) return fail(SessionState::Unreadable, "This disc could not be read (" + report.error().message + ").");
    auto patients = summarise(*report);
    (void)store->setContent(id, report->mediumKind, report->volumeId, patients, report->summary.instances,
                            report->findings.size());
    if (!report->hasImportable()) {
      return fail(SessionState::NoDicom, "No DICOM images were found on this disc.");
    }
    const std::uint64_t scanned = report->summary.bytesRead;
    const std::uint64_t total = scanned + report->summary.bytes;
    const std::uint64_t files = report->summary.filesSeen + report->summary.instances;
    std::uint64_t copied = 0, done = report->summary.filesSeen;
    std::size_t failed = 0;
    std::vector<uplink::InstanceRow> batch, all;
    auto flush = [&]() -> Result<void> {
      std::vector<std::string> paths;
      for (const auto& b : batch) paths.push_back(b.spoolPath);
      if (auto r = service->spool().sync(paths); !r) return r;
      if (auto r = store->addInstances(id, batch); !r) return r;
      all.insert(all.end(), batch.begin(), batch.end());
      batch.clear();
      return {};
    };
    (void)store->clearInstances(id);
    service->spool().removeFolder(folderFor(id));
    for (const auto& item : instancesInDiscOrder(*report)) {
      if (stopRequested()) return;  // left "reading": a restart reads it again
      const auto& inst = *item.instance;
      auto spooled = service->spool().addTo(**medium, inst, folderFor(id), false);
      ++done;
      copied += inst.size;
      if (!spooled) {
        ++failed;
        spdlog::warn("session {}: {}: {}", id, inst.path, spooled.error().message);
        continue;
      }
      batch.push_back(instanceRow(item, *spooled));
      if (batch.size() >= 128) {
        if (auto r = flush(); !r) return fail(SessionState::Unreadable, "The kiosk cannot store this disc: " + r.error().message);
      }
      progress(id, SessionProgress{done, files, scanned + copied, total, 0, -1});
    }
    if (auto r = flush(); !r) return fail(SessionState::Unreadable, "The kiosk cannot store this disc: " + r.error().message);
    if (all.empty()) return fail(SessionState::Unreadable, "None of the images on this disc could be read.");
    renderThumbnails(id, *report, all);
    medium->reset();
    setState(id, SessionState::Spooled);
    record(AuditEvent{AuditEventType::Import, failed == 0, "kiosk", report->volumeId,
                      report->mediumKind == "udf" ? "DVD" : "CD", {}, {}, auditPatients(patients),
                      failed == 0 ? "" : std::to_string(failed) + " instances could not be read"});
    eject(source);
    releaseDevice(source);
    {
      std::lock_guard lock(mu);
      rates.erase(id);
    }
    setState(id, SessionState::AwaitingConfirmation,
             failed == 0 ? "" : std::to_string(failed) + " of " + std::to_string(failed + all.size()) +
                                    " images could not be read from the disc");
  }

  void renderThumbnails(std::int64_t id, const ingest::FileSetReport& report, const std::vector<uplink::InstanceRow>& rows) {
    std::map<std::string, std::string> spoolOf;
    for (const auto& r : rows) spoolOf[r.sopInstanceUid] = r.spoolPath;
    fs::path dir = fs::path(cfg.dataDir) / "sessions" / std::to_string(id);
    std::error_code ec;
    fs::create_directories(dir, ec);
    int n = 0;
    for (const auto& p : report.patients) {
      for (const auto& st : p.studies) {
        // The middle of the largest series shows the anatomy best; a few
        // others are tried when it cannot be rendered (a report, a codec).
        std::vector<const ingest::SeriesOnMedium*> series;
        for (const auto& se : st.series) series.push_back(&se);
        std::sort(series.begin(), series.end(),
                  [](const auto* a, const auto* b) { return a->instances.size() > b->instances.size(); });
        int attempts = 0;
        for (const auto* se : series) {
          if (se->instances.empty() || attempts++ >= 3) break;
          auto it = spoolOf.find(se->instances[se->instances.size() / 2].sopInstanceUid);
          if (it == spoolOf.end()) continue;
          auto thumb = ingest::renderThumbnail(it->second, 256);
          if (!thumb) continue;
          std::string file = (dir / ("study-" + std::to_string(n++) + (thumb->channels == 1 ? ".pgm" : ".ppm"))).string();
          if (ingest::writeNetpbm(*thumb, file)) {
            (void)store->setThumbnail(id, st.studyInstanceUid, file);
            break;
          }
        }
      }
    }
  }

  // Thumbnails and spool copies of a session that is over.
  void removeSessionFiles(std::int64_t id) {
    std::error_code ec;
    fs::remove_all(fs::path(cfg.dataDir) / "sessions" / std::to_string(id), ec);
    service->spool().removeFolder(folderFor(id));
  }

  // Sessions whose jobs are in the outbox follow their rows.
  void followDeliveries() {
    for (auto id : store->inStates({SessionState::Queued, SessionState::Delivering})) {
      auto info = store->get(id);
      if (!info) continue;
      bool settled = true, ok = true, moving = false;
      std::vector<std::string> errors;
      for (auto job : info->jobs) {
        auto s = service->outbox().jobSettled(job);
        auto g = service->outbox().jobSucceeded(job);
        settled = settled && s && *s;
        ok = ok && g && *g;
        if (auto st = service->outbox().status(job); st && !st->empty()) {
          for (const auto& [state, n] : st->front().counts) {
            if (state != "queued" && n > 0) moving = true;
          }
          errors.insert(errors.end(), st->front().errors.begin(), st->front().errors.end());
        }
      }
      if (settled && ok) {
        auditDelivered(*info);
        removeSessionFiles(id);  // every destination has confirmed every instance
        setState(id, SessionState::Done);
      } else if (settled) {
        std::string msg = "Delivery failed";
        if (!errors.empty()) msg += ": " + errors.front();
        setState(id, SessionState::DeliveryFailed, msg);
      } else if (moving && info->state == SessionState::Queued) {
        setState(id, SessionState::Delivering);
      } else if (info->state == SessionState::Delivering) {
        notify(id);  // counts changed
      }
    }
  }

  void auditDelivered(const SessionInfo& info) {
    if (store->deliveryAudited(info.id)) return;
    for (auto job : info.jobs) {
      auto maps = service->outbox().mappings(job);
      auto st = service->outbox().status(job);
      if (!maps || !st || st->empty()) continue;
      for (const auto& dest : st->front().destinations) {
        for (const auto& m : *maps) {
          AuditPatient p{m.plan.local.mrn, m.plan.local.issuer, {}, {}};
          for (const auto& dp : info.patients) {
            if (dp.patientId != m.foreignId) continue;
            for (const auto& s : dp.studies) p.studyUids.push_back(s.uid);
          }
          AuditEvent e{AuditEventType::InstancesTransferred, true, info.confirmedBy, {}, {}, dest, {}, {p}, {}};
          record(e);
        }
      }
    }
    (void)store->setDeliveryAudited(info.id);
  }

  void onMedia(const MediaEvent& ev) {
    if (ev.kind == MediaEvent::Kind::Removed) return;  // a read in progress fails by itself
    if (!ev.key.empty() && store->knownSourceKey(ev.key)) return;  // this image was read already
    submitKeyed(ev.source, ev.key);
  }

  void submitKeyed(const std::string& source, const std::string& key) {
    if (isDevice(source)) {
      std::lock_guard lock(mu);
      if (!devicesBusy.insert(source).second) return;
    }
    auto id = store->create(source, key);
    if (!id) {
      spdlog::error("new session for {}: {}", source, id.error().message);
      releaseDevice(source);
      return;
    }
    spdlog::info("session {}: reading {}", *id, source);
    notify(*id);
    std::lock_guard lock(mu);
    reads.emplace_back(*id, source);
    wake.notify_all();
  }

  // After a restart: a disc that was being read is read again from its
  // image; a drive's disc may be gone, so the session asks for it again.
  void resume() {
    for (auto id : store->inStates({SessionState::Reading})) {
      auto info = store->get(id);
      if (!info) continue;
      std::error_code ec;
      if (!isDevice(info->source) && fs::exists(info->source, ec)) {
        std::lock_guard lock(mu);
        reads.emplace_back(id, info->source);
      } else {
        (void)store->clearInstances(id);
        service->spool().removeFolder(folderFor(id));
        setState(id, SessionState::Unreadable, "Reading was interrupted; please insert the disc again.");
      }
    }
    for (auto id : store->inStates({SessionState::Spooled})) setState(id, SessionState::AwaitingConfirmation);
  }

  // Finished sessions hold patient names; they are kept only as long as
  // the site says (their files went when they finished).
  void forgetOld() {
    auto ids = store->forgetFinished(cfg.kiosk.retentionDays);
    if (!ids) {
      spdlog::error("sessions: {}", ids.error().message);
      return;
    }
    for (auto id : *ids) removeSessionFiles(id);
    if (!ids->empty()) spdlog::info("sessions: {} finished sessions older than {} days forgotten", ids->size(), cfg.kiosk.retentionDays);
  }

  void watchLoop() {
    auto lastForget = Clock::now();
    std::optional<FolderWatcher> folder;
    if (options.watch && !cfg.kiosk.watchFolder.empty()) folder.emplace(cfg.kiosk.watchFolder);
    DriveWatcher drives;
    while (!stopRequested()) {
      if (folder) {
        for (const auto& ev : folder->poll()) onMedia(ev);
      }
      if (options.watch && cfg.kiosk.watchDrives) {
        for (const auto& ev : drives.poll()) onMedia(ev);
      }
      followDeliveries();
      if (Clock::now() - lastForget > std::chrono::hours(1)) {
        lastForget = Clock::now();
        forgetOld();
      }
      std::unique_lock lock(mu);
      wake.wait_for(lock, std::chrono::milliseconds(cfg.kiosk.pollMilliseconds), [&] { return stopping; });
    }
  }

  // The trail goes to the site's audit repository as it grows; while the
  // collector is unreachable the records wait in the trail.
  void forwardLoop(uplink::SyslogTarget target) {
    AuditForwarder f(cfg.auditFile(), std::move(target), cfg.auditSourceId());
    bool warned = false;
    while (!stopForwarding.load()) {
      auto sent = f.forwardPending();
      if (!sent && !warned) spdlog::warn("audit forwarding: {} (records stay queued)", sent.error().message);
      warned = !sent;
      bool more = sent && *sent > 0;
      std::unique_lock lock(mu);
      wake.wait_for(lock, more ? std::chrono::milliseconds(0) : std::chrono::milliseconds(cfg.kiosk.pollMilliseconds),
                    [&] { return stopForwarding.load(); });
    }
    (void)f.forwardPending();  // the stop record, where the collector is there
  }

  void readLoop() {
    for (;;) {
      std::pair<std::int64_t, std::string> next;
      {
        std::unique_lock lock(mu);
        wake.wait(lock, [&] { return stopping || !reads.empty(); });
        if (stopping) return;
        next = reads.front();
        reads.pop_front();
        rates[next.first] = Rate{};
      }
      read(next.first, next.second);
    }
  }

  void workLoop() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mu);
        wake.wait(lock, [&] { return stopping || !actions.empty(); });
        if (actions.empty()) return;  // stopping, and nothing left to run
        fn = std::move(actions.front());
        actions.pop_front();
      }
      fn();
    }
  }
};

SessionManager::SessionManager(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SessionManager::~SessionManager() { stop(); }

Result<std::unique_ptr<SessionManager>> SessionManager::open(const Config& cfg, Options options) {
  auto impl = std::make_unique<Impl>();
  impl->cfg = cfg;
  impl->options = options;
  auto store = SessionStore::open(cfg.sessionsDb());
  if (!store) return store.error();
  impl->store = std::move(*store);
  auto service = DeliveryService::open(impl->cfg);
  if (!service) return service.error();
  impl->service = std::move(*service);
  auto audit = AuditTrail::open(cfg.auditFile(), cfg.auditSourceId());
  if (!audit) return audit.error();
  impl->audit = std::move(*audit);
  if (cfg.kiosk.staffPins.empty()) {
    spdlog::warn("no [kiosk.staff] PINs configured: the default staff PIN is in use");
  }
  return std::unique_ptr<SessionManager>(new SessionManager(std::move(impl)));
}

void SessionManager::setListener(Listener listener) { impl_->listener = std::move(listener); }

void SessionManager::start() {
  auto& m = *impl_;
  if (m.started) return;
  m.started = true;
  m.record(AuditEvent{AuditEventType::ApplicationStart, true, "kiosk", {}, {}, {}, {}, {}, {}});
  m.forgetOld();
  m.resume();
  if (m.options.deliver) {
    m.service->startListener();
    m.delivery = std::thread([&m] { m.service->run(m.stopDelivery, std::nullopt); });
  }
  m.reader = std::thread([&m] { m.readLoop(); });
  m.worker = std::thread([&m] { m.workLoop(); });
  m.watcher = std::thread([&m] { m.watchLoop(); });
  if (!m.cfg.kiosk.auditSyslog.empty()) {
    if (auto target = m.cfg.auditTarget()) {
      m.forwarder = std::thread([&m, t = *target] { m.forwardLoop(t); });
    } else {
      spdlog::error("audit forwarding: {}", target.error().message);
    }
  }
}

void SessionManager::stop() {
  auto& m = *impl_;
  if (!m.started) return;
  {
    std::lock_guard lock(m.mu);
    m.stopping = true;
  }
  m.wake.notify_all();
  m.stopDelivery = true;
  for (auto* t : {&m.watcher, &m.reader, &m.worker, &m.delivery}) {
    if (t->joinable()) t->join();
  }
  m.record(AuditEvent{AuditEventType::ApplicationStop, true, "kiosk", {}, {}, {}, {}, {}, {}});
  {
    std::lock_guard lock(m.mu);
    m.stopForwarding = true;
  }
  m.wake.notify_all();
  if (m.forwarder.joinable()) m.forwarder.join();
  m.started = false;
}

void SessionManager::submit(const std::string& source) { impl_->submitKeyed(source, {}); }

std::vector<SessionInfo> SessionManager::sessions() {
  std::vector<SessionInfo> out;
  for (auto& s : impl_->store->list()) out.push_back(impl_->withLive(std::move(s)));
  return out;
}

std::optional<SessionInfo> SessionManager::session(std::int64_t id) {
  auto s = impl_->store->get(id);
  if (!s) return std::nullopt;
  return impl_->withLive(std::move(*s));
}

Result<std::vector<PatientCandidates>> SessionManager::candidates(std::int64_t id, const std::string& staffUser) {
  auto info = impl_->store->get(id);
  if (!info) return makeError("SESSION_UNKNOWN", "no session " + std::to_string(id));
  auto dir = openDirectory(impl_->cfg);
  if (!dir) return dir.error();
  std::vector<PatientCandidates> out;
  for (const auto& p : info->patients) {
    reconcile::DiscPatient disc{p.patientId, p.issuer, p.name, p.birthDate, p.sex};
    auto found = (*dir)->candidates(reconcile::queryFor(disc));
    impl_->record(AuditEvent{AuditEventType::Query, static_cast<bool>(found), staffUser, {}, {}, (*dir)->kind(),
                             "candidates for " + p.patientId, {AuditPatient{p.patientId, p.issuer, p.name, {}}},
                             found ? "" : found.error().message});
    if (!found) return found.error();
    out.push_back(PatientCandidates{p, reconcile::rank(disc, *found, thresholds(impl_->cfg))});
  }
  return out;
}

Result<std::vector<reconcile::Candidate>> SessionManager::search(const std::string& text, const std::string& staffUser) {
  auto dir = openDirectory(impl_->cfg);
  if (!dir) return dir.error();
  auto found = searchDirectory(impl_->cfg, **dir, text);
  impl_->record(AuditEvent{AuditEventType::Query, static_cast<bool>(found), staffUser, {}, {}, (*dir)->kind(), text, {},
                           found ? "" : found.error().message});
  return found;
}

Result<void> SessionManager::confirm(std::int64_t id, const Confirmation& c) {
  auto& m = *impl_;
  auto info = m.store->get(id);
  if (!info) return makeError("SESSION_UNKNOWN", "no session " + std::to_string(id));
  if (info->state != SessionState::AwaitingConfirmation) {
    return makeError("SESSION_STATE", std::string("session is ") + sessionStateName(info->state) +
                                          ", not awaiting confirmation");
  }
  if (c.staffUser.empty()) return makeError("NOT_AUTHENTICATED", "a staff user must confirm");
  if (c.mrnByPatientId.empty()) return makeError("NO_PATIENT", "no local patient chosen");
  if (c.destinations.empty()) return makeError("NO_DESTINATION", "no destination chosen");
  for (const auto& d : c.destinations) {
    if (auto r = m.cfg.destination(d); !r) return r.error();
  }
  auto settings = coercionSettings(m.cfg, c.accessionPolicy);
  if (!settings) return settings.error();
  auto dir = openIndex(m.cfg);
  if (!dir) return dir.error();
  uplink::JobSpec spec;
  spec.source = info->source;
  spec.volumeId = info->volumeId;
  spec.confirmedBy = c.staffUser;
  spec.destinations = c.destinations;
  for (const auto& pick : c.mrnByPatientId) {
    const std::string& foreign = pick.first;
    const std::string& mrn = pick.second;
    auto p = std::find_if(info->patients.begin(), info->patients.end(),
                          [&](const PatientSummary& s) { return s.patientId == foreign; });
    if (p == info->patients.end()) return makeError("NO_PATIENT", "patient ID " + foreign + " is not on this disc");
    auto plan = reconcile::makePlan(**dir, p->patientId, p->issuer, mrn, m.cfg.mpi.defaultIssuer, *settings);
    if (!plan) return plan.error();
    spec.mappings.push_back(uplink::PatientMapping{p->patientId, p->issuer, *plan});
  }
  auto rows = m.store->instances(id);
  if (!rows) return rows.error();
  std::vector<uplink::InstanceRow> chosen;
  for (const auto& r : *rows) {
    if (c.mrnByPatientId.count(r.foreignPatientId)) {
      chosen.push_back(r);
    } else {
      m.service->spool().remove(r.spoolPath);  // not confirmed: not kept
    }
  }
  if (chosen.empty()) return makeError("NOTHING_TO_IMPORT", "the chosen patients have no instances on this disc");
  auto& outbox = m.service->outbox();
  saveUrlOptions(m.cfg, outbox, c.destinations);
  auto job = outbox.createJob(spec);
  if (!job) return job.error();
  if (auto r = outbox.addInstances(*job, chosen); !r) return r;
  if (auto r = outbox.queueInstances(*job, chosen); !r) return r;
  if (auto r = outbox.queueJob(*job); !r) return r;
  if (auto r = m.store->setConfirmed(id, c.staffUser, c.destinations, {*job}); !r) return r;
  for (const auto& mp : spec.mappings) {
    if (!mp.foreignId.empty()) (void)(*dir)->addOtherId(mp.plan.local.mrn, mp.plan.local.issuer, {mp.foreignId, mp.foreignIssuer});
    AuditPatient local{mp.plan.local.mrn, mp.plan.local.issuer, reconcile::formatPersonName(mp.plan.local.name), {}};
    m.record(AuditEvent{AuditEventType::PatientRecord, true, c.staffUser, info->volumeId, {}, {}, {}, {local},
                        "disc patient " + mp.foreignId + " confirmed as local MRN " + mp.plan.local.mrn});
  }
  spdlog::info("session {}: confirmed by {}, job {}", id, c.staffUser, *job);
  m.notify(id);
  return {};
}

Result<void> SessionManager::reject(std::int64_t id, const std::string& staffUser, const std::string& reason) {
  auto& m = *impl_;
  auto info = m.store->get(id);
  if (!info) return makeError("SESSION_UNKNOWN", "no session " + std::to_string(id));
  if (!rejectable(info->state)) {
    return makeError("SESSION_STATE", std::string("a session that is ") + sessionStateName(info->state) +
                                          " cannot be rejected");
  }
  if (staffUser.empty()) return makeError("NOT_AUTHENTICATED", "a staff user must reject");
  for (auto job : info->jobs) {
    if (auto paths = m.service->outbox().purge(job); paths) m.service->spool().removeJob(job);
  }
  (void)m.store->clearInstances(id);
  m.removeSessionFiles(id);
  m.record(AuditEvent{AuditEventType::StudyDeleted, true, staffUser, info->volumeId, {}, {}, {},
                      auditPatients(info->patients), "disc rejected: " + reason});
  m.setState(id, SessionState::Rejected, reason);
  return {};
}

Result<void> SessionManager::retry(std::int64_t id, const std::string& staffUser) {
  auto& m = *impl_;
  auto info = m.store->get(id);
  if (!info) return makeError("SESSION_UNKNOWN", "no session " + std::to_string(id));
  if (info->state != SessionState::DeliveryFailed) return makeError("SESSION_STATE", "only a failed delivery is retried");
  for (auto job : info->jobs) {
    if (auto r = m.service->outbox().retryFailed(job); !r) return r.error();
  }
  spdlog::info("session {}: delivery retried by {}", id, staffUser);
  m.setState(id, SessionState::Queued);
  return {};
}

reconcile::Candidate SessionManager::compare(const PatientSummary& disc, const reconcile::LocalPatient& local) const {
  reconcile::DiscPatient d{disc.patientId, disc.issuer, disc.name, disc.birthDate, disc.sex};
  return reconcile::score(d, local, thresholds(impl_->cfg));
}

Result<void> SessionManager::disown(std::int64_t id) {
  if (auto r = impl_->store->setDisowned(id); !r) return r;
  impl_->notify(id);
  return {};
}

std::optional<std::string> SessionManager::authenticate(const std::string& pin) {
  auto& m = *impl_;
  {
    std::lock_guard lock(m.mu);
    if (Clock::now() < m.lockedUntil) return std::nullopt;
  }
  std::map<std::string, std::string> pins = m.cfg.kiosk.staffPins;
  if (pins.empty()) pins[kDefaultStaffUser] = staffPinHash(kDefaultStaffUser, kDefaultStaffPin);
  std::optional<std::string> user;
  for (const auto& [u, hash] : pins) {
    if (staffPinHash(u, pin) == hash) user = u;
  }
  {
    std::lock_guard lock(m.mu);
    if (user) {
      m.failedPins = 0;
    } else if (++m.failedPins >= 5) {
      m.failedPins = 0;
      m.lockedUntil = Clock::now() + std::chrono::minutes(1);
    }
  }
  m.record(AuditEvent{AuditEventType::Login, user.has_value(), user.value_or("unknown"), {}, {}, {}, {}, {},
                      user ? "" : "wrong PIN"});
  return user;
}

void SessionManager::logout(const std::string& user) {
  impl_->record(AuditEvent{AuditEventType::Logout, true, user, {}, {}, {}, {}, {}, {}});
}

bool SessionManager::defaultPinInUse() const { return impl_->cfg.kiosk.staffPins.empty(); }

std::vector<std::string> SessionManager::destinationChoices() const {
  const auto& cfg = impl_->cfg;
  if (!cfg.kiosk.destinations.empty()) return cfg.kiosk.destinations;
  std::vector<std::string> out;
  for (const auto& [name, d] : cfg.delivery.pacs) out.push_back(name);
  for (const auto& [name, d] : cfg.delivery.cloud) out.push_back(name);
  return out;
}

const Config& SessionManager::config() const { return impl_->cfg; }

void SessionManager::post(std::function<void()> fn) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->actions.push_back(std::move(fn));
  }
  impl_->wake.notify_all();
}

}  // namespace discbridge::kiosk
