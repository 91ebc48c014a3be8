#include "session_store.h"

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <sys/stat.h>

#include <filesystem>
#include <random>
#include <variant>

namespace discbridge::kiosk {
namespace {

using nlohmann::json;
using Value = std::variant<std::int64_t, std::string>;

const char* kSchema = R"SQL(
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
CREATE TABLE IF NOT EXISTS session(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  state TEXT NOT NULL,
  source TEXT NOT NULL,
  source_key TEXT NOT NULL DEFAULT '',
  medium_kind TEXT NOT NULL DEFAULT '',
  volume_id TEXT NOT NULL DEFAULT '',
  receipt TEXT NOT NULL UNIQUE,
  created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
  updated TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
  files_done INTEGER NOT NULL DEFAULT 0, files_total INTEGER NOT NULL DEFAULT 0,
  bytes_done INTEGER NOT NULL DEFAULT 0, bytes_total INTEGER NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT '',
  patients TEXT NOT NULL DEFAULT '[]',
  instances INTEGER NOT NULL DEFAULT 0,
  findings INTEGER NOT NULL DEFAULT 0,
  disowned INTEGER NOT NULL DEFAULT 0,
  confirmed_by TEXT NOT NULL DEFAULT '',
  destinations TEXT NOT NULL DEFAULT '[]',
  jobs TEXT NOT NULL DEFAULT '[]',
  delivery_audited INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS session_source_key ON session(source_key);
CREATE TABLE IF NOT EXISTS session_instance(
  session INTEGER NOT NULL REFERENCES session(id),
  sop_instance_uid TEXT NOT NULL, sop_class_uid TEXT NOT NULL, transfer_syntax_uid TEXT NOT NULL,
  study_uid TEXT NOT NULL, series_uid TEXT NOT NULL, patient_id TEXT NOT NULL, issuer TEXT NOT NULL,
  spool_path TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
  PRIMARY KEY(session, sop_instance_uid));
)SQL";

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &st_, nullptr); }
  ~Statement() { sqlite3_finalize(st_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return st_ != nullptr; }
  Statement& bind(std::initializer_list<Value> values) {
    int i = 1;
    for (const auto& v : values) {
      if (const auto* n = std::get_if<std::int64_t>(&v)) {
        sqlite3_bind_int64(st_, i++, *n);
      } else {
        const auto& s = std::get<std::string>(v);
        sqlite3_bind_text(st_, i++, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
      }
    }
    return *this;
  }
  bool step() { return sqlite3_step(st_) == SQLITE_ROW; }
  int run() { return sqlite3_step(st_); }
  std::string text(int c) const {
    const auto* t = sqlite3_column_text(st_, c);
    return t != nullptr ? reinterpret_cast<const char*>(t) : "";
  }
  std::int64_t integer(int c) const { return sqlite3_column_int64(st_, c); }

 private:
  sqlite3_stmt* st_ = nullptr;
};

Result<void> done(sqlite3* db, int rc, const char* what) {
  if (rc == SQLITE_DONE || rc == SQLITE_ROW || rc == SQLITE_OK) return {};
  return makeError("SESSION_DB", std::string(what) + ": " + sqlite3_errmsg(db), rc == SQLITE_BUSY);
}

// Short, unambiguous on screen and when read aloud (no 0/O, 1/I/L).
std::string newReceipt() {
  static const char alphabet[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<int> pick(0, static_cast<int>(sizeof alphabet) - 2);
  std::string r;
  for (int i = 0; i < 6; ++i) r.push_back(alphabet[pick(rng)]);
  return r;
}

std::string patientsToJson(const std::vector<PatientSummary>& patients) {
  json arr = json::array();
  for (const auto& p : patients) {
    json studies = json::array();
    for (const auto& s : p.studies) {
      studies.push_back({{"uid", s.uid}, {"date", s.date}, {"description", s.description}, {"modalities", s.modalities},
                         {"series", s.series}, {"instances", s.instances}, {"thumbnail", s.thumbnail}});
    }
    arr.push_back({{"patient_id", p.patientId}, {"issuer", p.issuer}, {"name", p.name}, {"birth_date", p.birthDate},
                   {"sex", p.sex}, {"studies", studies}, {"conflicts", p.conflicts}});
  }
  return arr.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<PatientSummary> patientsFromJson(const std::string& text) {
  std::vector<PatientSummary> out;
  auto arr = json::parse(text, nullptr, false);
  if (!arr.is_array()) return out;
  auto str = [](const json& j, const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : ""; };
  auto num = [](const json& j, const char* k) {
    return j.contains(k) && j[k].is_number_unsigned() ? j[k].get<std::size_t>() : std::size_t{0};
  };
  for (const auto& p : arr) {
    PatientSummary s{str(p, "patient_id"), str(p, "issuer"), str(p, "name"), str(p, "birth_date"), str(p, "sex"), {}, {}};
    if (p.contains("studies") && p["studies"].is_array()) {
      for (const auto& st : p["studies"]) {
        s.studies.push_back({str(st, "uid"), str(st, "date"), str(st, "description"), str(st, "modalities"),
                             num(st, "series"), num(st, "instances"), str(st, "thumbnail")});
      }
    }
    if (p.contains("conflicts") && p["conflicts"].is_array()) {
      for (const auto& c : p["conflicts"]) {
        if (c.is_string()) s.conflicts.push_back(c.get<std::string>());
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

const char* kSelect =
    "SELECT id, state, source, medium_kind, volume_id, receipt, created, updated, files_done, files_total, "
    "bytes_done, bytes_total, message, patients, instances, findings, disowned, confirmed_by, destinations, jobs "
    "FROM session ";

SessionInfo rowToInfo(const Statement& s) {
  SessionInfo i;
  i.id = s.integer(0);
  i.state = parseSessionState(s.text(1)).value_or(SessionState::Unreadable);
  i.source = s.text(2);
  i.mediumKind = s.text(3);
  i.volumeId = s.text(4);
  i.receipt = s.text(5);
  i.created = s.text(6);
  i.updated = s.text(7);
  i.progress.filesDone = static_cast<std::uint64_t>(s.integer(8));
  i.progress.filesTotal = static_cast<std::uint64_t>(s.integer(9));
  i.progress.bytesDone = static_cast<std::uint64_t>(s.integer(10));
  i.progress.bytesTotal = static_cast<std::uint64_t>(s.integer(11));
  i.message = s.text(12);
  i.patients = patientsFromJson(s.text(13));
  i.instances = static_cast<std::size_t>(s.integer(14));
  i.findings = static_cast<std::size_t>(s.integer(15));
  i.patientDisowned = s.integer(16) != 0;
  i.confirmedBy = s.text(17);
  auto d = json::parse(s.text(18), nullptr, false);
  if (d.is_array()) {
    for (const auto& x : d) {
      if (x.is_string()) i.destinations.push_back(x.get<std::string>());
    }
  }
  auto j = json::parse(s.text(19), nullptr, false);
  if (j.is_array()) {
    for (const auto& x : j) {
      if (x.is_number_integer()) i.jobs.push_back(x.get<std::int64_t>());
    }
  }
  return i;
}

}  // namespace

SessionStore::SessionStore(sqlite3* db) : db_(db) {}
SessionStore::~SessionStore() { sqlite3_close_v2(db_); }

Result<std::unique_ptr<SessionStore>> SessionStore::open(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw != nullptr ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close_v2(raw);
    return makeError("SESSION_DB", "cannot open " + path + ": " + msg);
  }
  ::chmod(path.c_str(), 0600);  // patient names live here
  sqlite3_busy_timeout(raw, 10000);
  char* err = nullptr;
  if (sqlite3_exec(raw, kSchema, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "?";
    sqlite3_free(err);
    sqlite3_close_v2(raw);
    return makeError("SESSION_DB", "cannot set up " + path + ": " + msg);
  }
  return std::unique_ptr<SessionStore>(new SessionStore(raw));
}

Result<std::int64_t> SessionStore::create(const std::string& source, const std::string& sourceKey) {
  std::lock_guard lock(mu_);
  for (int attempt = 0; attempt < 20; ++attempt) {
    Statement s(db_, "INSERT INTO session(state, source, source_key, receipt) VALUES('reading', ?, ?, ?)");
    int rc = s.bind({source, sourceKey, newReceipt()}).run();
    if (rc == SQLITE_DONE) return sqlite3_last_insert_rowid(db_);
    if (rc != SQLITE_CONSTRAINT) return done(db_, rc, "new session").error();
  }
  return makeError("SESSION_DB", "no free receipt code");
}

bool SessionStore::knownSourceKey(const std::string& key) {
  std::lock_guard lock(mu_);
  Statement s(db_, "SELECT 1 FROM session WHERE source_key = ? LIMIT 1");
  return s.bind({key}).step();
}

Result<void> SessionStore::setState(std::int64_t id, SessionState state, const std::string& message) {
  std::lock_guard lock(mu_);
  Statement s(db_,
              "UPDATE session SET state = ?, message = ?, updated = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ?");
  return done(db_, s.bind({std::string(sessionStateName(state)), message, id}).run(), "session state");
}

Result<void> SessionStore::setProgress(std::int64_t id, const SessionProgress& p) {
  std::lock_guard lock(mu_);
  Statement s(db_, "UPDATE session SET files_done = ?, files_total = ?, bytes_done = ?, bytes_total = ? WHERE id = ?");
  return done(db_,
              s.bind({static_cast<std::int64_t>(p.filesDone), static_cast<std::int64_t>(p.filesTotal),
                      static_cast<std::int64_t>(p.bytesDone), static_cast<std::int64_t>(p.bytesTotal), id})
                  .run(),
              "session progress");
}

Result<void> SessionStore::setContent(std::int64_t id, const std::string& mediumKind, const std::string& volumeId,
                                      const std::vector<PatientSummary>& patients, std::size_t instances,
                                      std::size_t findings) {
  std::lock_guard lock(mu_);
  Statement s(db_,
              "UPDATE session SET medium_kind = ?, volume_id = ?, patients = ?, instances = ?, findings = ? WHERE id = ?");
  return done(db_,
              s.bind({mediumKind, volumeId, patientsToJson(patients), static_cast<std::int64_t>(instances),
                      static_cast<std::int64_t>(findings), id})
                  .run(),
              "session content");
}

Result<void> SessionStore::setThumbnail(std::int64_t id, const std::string& studyUid, const std::string& file) {
  auto info = get(id);
  if (!info) return makeError("SESSION_UNKNOWN", "no session " + std::to_string(id));
  for (auto& p : info->patients) {
    for (auto& s : p.studies) {
      if (s.uid == studyUid) s.thumbnail = file;
    }
  }
  std::lock_guard lock(mu_);
  Statement s(db_, "UPDATE session SET patients = ? WHERE id = ?");
  return done(db_, s.bind({patientsToJson(info->patients), id}).run(), "session thumbnail");
}

Result<void> SessionStore::addInstances(std::int64_t id, const std::vector<uplink::InstanceRow>& rows) {
  std::lock_guard lock(mu_);
  sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  for (const auto& r : rows) {
    Statement s(db_,
                "INSERT OR REPLACE INTO session_instance(session, sop_instance_uid, sop_class_uid, transfer_syntax_uid, "
                "study_uid, series_uid, patient_id, issuer, spool_path, sha256, size) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    int rc = s.bind({id, r.sopInstanceUid, r.sopClassUid, r.transferSyntaxUid, r.studyUid, r.seriesUid,
                     r.foreignPatientId, r.foreignIssuer, r.spoolPath, r.sha256, static_cast<std::int64_t>(r.size)})
                 .run();
    if (rc != SQLITE_DONE) {
      auto e = done(db_, rc, "session instances");
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return e;
    }
  }
  return done(db_, sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr), "session instances");
}

Result<std::vector<uplink::InstanceRow>> SessionStore::instances(std::int64_t id) {
  std::lock_guard lock(mu_);
  Statement s(db_,
              "SELECT sop_instance_uid, sop_class_uid, transfer_syntax_uid, study_uid, series_uid, patient_id, issuer, "
              "spool_path, sha256, size FROM session_instance WHERE session = ? ORDER BY rowid");
  s.bind({id});
  std::vector<uplink::InstanceRow> out;
  while (s.step()) {
    uplink::InstanceRow r;
    r.sopInstanceUid = s.text(0);
    r.sopClassUid = s.text(1);
    r.transferSyntaxUid = s.text(2);
    r.studyUid = s.text(3);
    r.seriesUid = s.text(4);
    r.foreignPatientId = s.text(5);
    r.foreignIssuer = s.text(6);
    r.spoolPath = s.text(7);
    r.sha256 = s.text(8);
    r.size = static_cast<std::uint64_t>(s.integer(9));
    out.push_back(std::move(r));
  }
  return out;
}

Result<void> SessionStore::clearInstances(std::int64_t id) {
  std::lock_guard lock(mu_);
  Statement s(db_, "DELETE FROM session_instance WHERE session = ?");
  return done(db_, s.bind({id}).run(), "session instances");
}

Result<void> SessionStore::setConfirmed(std::int64_t id, const std::string& by, const std::vector<std::string>& destinations,
                                        const std::vector<std::int64_t>& jobs) {
  std::lock_guard lock(mu_);
  Statement s(db_,
              "UPDATE session SET state = 'queued', message = '', confirmed_by = ?, destinations = ?, jobs = ?, "
              "updated = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ?");
  return done(db_, s.bind({by, json(destinations).dump(), json(jobs).dump(), id}).run(), "session confirmation");
}

Result<void> SessionStore::setDisowned(std::int64_t id) {
  std::lock_guard lock(mu_);
  Statement s(db_, "UPDATE session SET disowned = 1 WHERE id = ?");
  return done(db_, s.bind({id}).run(), "session");
}

Result<void> SessionStore::setDeliveryAudited(std::int64_t id) {
  std::lock_guard lock(mu_);
  Statement s(db_, "UPDATE session SET delivery_audited = 1 WHERE id = ?");
  return done(db_, s.bind({id}).run(), "session");
}

bool SessionStore::deliveryAudited(std::int64_t id) {
  std::lock_guard lock(mu_);
  Statement s(db_, "SELECT delivery_audited FROM session WHERE id = ?");
  return s.bind({id}).step() && s.integer(0) != 0;
}

std::optional<SessionInfo> SessionStore::get(std::int64_t id) {
  std::lock_guard lock(mu_);
  Statement s(db_, (std::string(kSelect) + "WHERE id = ?").c_str());
  if (!s.bind({id}).step()) return std::nullopt;
  return rowToInfo(s);
}

std::vector<SessionInfo> SessionStore::list() {
  std::lock_guard lock(mu_);
  Statement s(db_, (std::string(kSelect) +
                    "WHERE state NOT IN ('done', 'rejected') OR updated > strftime('%Y-%m-%dT%H:%M:%SZ','now','-1 day') "
                    "ORDER BY id DESC LIMIT 500")
                       .c_str());
  std::vector<SessionInfo> out;
  while (s.step()) out.push_back(rowToInfo(s));
  return out;
}

std::vector<std::int64_t> SessionStore::inStates(const std::vector<SessionState>& states) {
  std::lock_guard lock(mu_);
  std::vector<std::int64_t> out;
  for (auto st : states) {
    Statement s(db_, "SELECT id FROM session WHERE state = ? ORDER BY id");
    s.bind({std::string(sessionStateName(st))});
    while (s.step()) out.push_back(s.integer(0));
  }
  return out;
}

Result<std::vector<std::int64_t>> SessionStore::forgetFinished(int days) {
  std::lock_guard lock(mu_);
  const std::string age = "-" + std::to_string(days) + " days";
  std::vector<std::int64_t> ids;
  {
    Statement s(db_,
                "SELECT id FROM session WHERE state IN ('done', 'rejected', 'unreadable', 'no_dicom') "
                "AND updated < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?)");
    s.bind({age});
    while (s.step()) ids.push_back(s.integer(0));
  }
  sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  for (auto id : ids) {
    Statement a(db_, "DELETE FROM session_instance WHERE session = ?");
    Statement b(db_, "DELETE FROM session WHERE id = ?");
    if (a.bind({id}).run() != SQLITE_DONE || b.bind({id}).run() != SQLITE_DONE) {
      auto e = done(db_, SQLITE_ERROR, "forgetting sessions");
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return e.error();
    }
  }
  if (auto r = done(db_, sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr), "forgetting sessions"); !r) return r.error();
  return ids;
}

}  // namespace discbridge::kiosk
