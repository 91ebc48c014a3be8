#include "discbridge/uplink/outbox.h"

#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

namespace discbridge::uplink {
namespace {

using nlohmann::json;

struct DbDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

const char* kSchema = R"SQL(
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
PRAGMA foreign_keys=ON;
CREATE TABLE IF NOT EXISTS job(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
  source TEXT NOT NULL, volume_id TEXT NOT NULL DEFAULT '', confirmed_by TEXT NOT NULL DEFAULT '',
  destinations TEXT NOT NULL, mappings TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'spooling');
CREATE TABLE IF NOT EXISTS instance(
  id INTEGER PRIMARY KEY,
  job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
  sop_instance_uid TEXT NOT NULL, sop_class_uid TEXT NOT NULL, transfer_syntax_uid TEXT NOT NULL,
  study_uid TEXT NOT NULL, series_uid TEXT NOT NULL,
  foreign_patient_id TEXT NOT NULL, foreign_issuer TEXT NOT NULL,
  spool_path TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
  spool_deleted INTEGER NOT NULL DEFAULT 0,
  UNIQUE(job_id, sop_instance_uid));
CREATE TABLE IF NOT EXISTS delivery(
  id INTEGER PRIMARY KEY,
  instance_id INTEGER NOT NULL REFERENCES instance(id) ON DELETE CASCADE,
  destination TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'queued',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt REAL NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  transaction_uid TEXT NOT NULL DEFAULT '',
  updated REAL NOT NULL DEFAULT (julianday('now')),
  UNIQUE(instance_id, destination));
CREATE INDEX IF NOT EXISTS delivery_work ON delivery(destination, state, next_attempt);
CREATE INDEX IF NOT EXISTS delivery_tx ON delivery(transaction_uid);
CREATE TABLE IF NOT EXISTS url_options(url TEXT PRIMARY KEY, options TEXT NOT NULL);
)SQL";

std::string col(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? reinterpret_cast<const char*>(t) : "";
}

json planToJson(const PatientMapping& m) {
  const auto& p = m.plan;
  return {{"foreign_id", m.foreignId},
          {"foreign_issuer", m.foreignIssuer},
          {"mrn", p.local.mrn},
          {"issuer", p.local.issuer},
          {"name", reconcile::formatPersonName(p.local.name)},
          {"birth_date", p.local.birthDate},
          {"sex", p.local.sex},
          {"accession_policy", p.accession == reconcile::AccessionPolicy::Keep    ? "keep"
                               : p.accession == reconcile::AccessionPolicy::Clear ? "clear"
                                                                                  : "replace"},
          {"accession_number", p.accessionNumber},
          {"issuer_universal_id", p.issuerUniversalId},
          {"issuer_universal_id_type", p.issuerUniversalIdType},
          {"modifying_system", p.modifyingSystem}};
}

PatientMapping planFromJson(const json& j) {
  PatientMapping m;
  m.foreignId = j.value("foreign_id", "");
  m.foreignIssuer = j.value("foreign_issuer", "");
  auto& p = m.plan;
  p.foreignPatientId = m.foreignId;
  p.foreignIssuer = m.foreignIssuer;
  p.local.mrn = j.value("mrn", "");
  p.local.issuer = j.value("issuer", "");
  p.local.name = reconcile::parsePersonName(j.value("name", ""));
  p.local.birthDate = j.value("birth_date", "");
  p.local.sex = j.value("sex", "");
  auto policy = reconcile::parseAccessionPolicy(j.value("accession_policy", "keep"));
  p.accession = policy ? *policy : reconcile::AccessionPolicy::Keep;
  p.accessionNumber = j.value("accession_number", "");
  p.issuerUniversalId = j.value("issuer_universal_id", "");
  p.issuerUniversalIdType = j.value("issuer_universal_id_type", "");
  p.modifyingSystem = j.value("modifying_system", "DISCBRIDGE");
  return m;
}

}  // namespace

const char* stateName(DeliveryState s) {
  switch (s) {
    case DeliveryState::Queued: return "queued";
    case DeliveryState::Sending: return "sending";
    case DeliveryState::Stored: return "stored";
    case DeliveryState::Committed: return "committed";
    case DeliveryState::Delivered: return "delivered";
    case DeliveryState::Present: return "present";
    case DeliveryState::Failed: return "failed";
  }
  return "queued";
}

std::optional<DeliveryState> parseState(const std::string& s) {
  for (auto st : {DeliveryState::Queued, DeliveryState::Sending, DeliveryState::Stored, DeliveryState::Committed,
                  DeliveryState::Delivered, DeliveryState::Present, DeliveryState::Failed}) {
    if (s == stateName(st)) return st;
  }
  return std::nullopt;
}

bool isFinalSuccess(DeliveryState s) {
  return s == DeliveryState::Committed || s == DeliveryState::Delivered || s == DeliveryState::Present;
}

struct Outbox::Impl {
  std::unique_ptr<sqlite3, DbDeleter> db;
  std::mutex mu;  // one writer at a time inside the process

  Error sqlError(const std::string& what) const {
    return makeError("OUTBOX_DATABASE", what + ": " + sqlite3_errmsg(db.get()), true);
  }
  Result<Stmt> prepare(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return sqlError("prepare");
    return Stmt(s);
  }
  Result<void> exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db.get(), sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : "";
      sqlite3_free(msg);
      return makeError("OUTBOX_DATABASE", m, true);
    }
    return {};
  }
  static void bind(sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  // Runs f inside one IMMEDIATE transaction.
  template <class F>
  Result<void> transaction(F&& f) {
    std::lock_guard lock(mu);
    if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
    Result<void> r = f();
    if (!r) {
      (void)exec("ROLLBACK");
      return r;
    }
    return exec("COMMIT");
  }
  Result<void> updateRows(const std::vector<std::int64_t>& rows, const std::string& sql,
                          const std::vector<std::string>& args) {
    return transaction([&]() -> Result<void> {
      auto st = prepare(sql);
      if (!st) return st.error();
      for (auto id : rows) {
        sqlite3_reset(st->get());
        int i = 1;
        for (const auto& a : args) bind(st->get(), i++, a);
        sqlite3_bind_int64(st->get(), i, id);
        if (sqlite3_step(st->get()) != SQLITE_DONE) return sqlError("update delivery");
      }
      return {};
    });
  }
  std::vector<DeliveryRow> readRows(sqlite3_stmt* s) {
    std::vector<DeliveryRow> out;
    while (sqlite3_step(s) == SQLITE_ROW) {
      DeliveryRow r;
      r.id = sqlite3_column_int64(s, 0);
      r.destination = col(s, 1);
      r.state = parseState(col(s, 2)).value_or(DeliveryState::Queued);
      r.attempts = sqlite3_column_int(s, 3);
      r.lastError = col(s, 4);
      r.transactionUid = col(s, 5);
      auto& i = r.instance;
      i.id = sqlite3_column_int64(s, 6);
      i.job = sqlite3_column_int64(s, 7);
      i.sopInstanceUid = col(s, 8);
      i.sopClassUid = col(s, 9);
      i.transferSyntaxUid = col(s, 10);
      i.studyUid = col(s, 11);
      i.seriesUid = col(s, 12);
      i.foreignPatientId = col(s, 13);
      i.foreignIssuer = col(s, 14);
      i.spoolPath = col(s, 15);
      i.sha256 = col(s, 16);
      i.size = static_cast<std::uint64_t>(sqlite3_column_int64(s, 17));
      out.push_back(std::move(r));
    }
    return out;
  }
};

static const char* kRowColumns =
    "d.id, d.destination, d.state, d.attempts, d.last_error, d.transaction_uid, i.id, i.job_id, i.sop_instance_uid,"
    " i.sop_class_uid, i.transfer_syntax_uid, i.study_uid, i.series_uid, i.foreign_patient_id, i.foreign_issuer,"
    " i.spool_path, i.sha256, i.size FROM delivery d JOIN instance i ON i.id = d.instance_id";

Outbox::Outbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Outbox::~Outbox() = default;

Result<std::unique_ptr<Outbox>> Outbox::open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  auto impl = std::make_unique<Impl>();
  impl->db.reset(raw);
  if (rc != SQLITE_OK) return makeError("OUTBOX_DATABASE", "cannot open " + path + ": " + sqlite3_errstr(rc));
  sqlite3_busy_timeout(raw, 10000);
  // Holds patient mappings and URL credentials: the owner's alone.
  ::chmod(path.c_str(), 0600);
  if (auto r = impl->exec(kSchema); !r) return r.error();
  return std::unique_ptr<Outbox>(new Outbox(std::move(impl)));
}

Result<std::int64_t> Outbox::createJob(const JobSpec& spec) {
  std::int64_t id = 0;
  auto r = impl_->transaction([&]() -> Result<void> {
    auto st = impl_->prepare(
        "INSERT INTO job(source, volume_id, confirmed_by, destinations, mappings) VALUES (?,?,?,?,?)");
    if (!st) return st.error();
    json maps = json::array();
    for (const auto& m : spec.mappings) maps.push_back(planToJson(m));
    Impl::bind(st->get(), 1, spec.source);
    Impl::bind(st->get(), 2, spec.volumeId);
    Impl::bind(st->get(), 3, spec.confirmedBy);
    Impl::bind(st->get(), 4, json(spec.destinations).dump());
    Impl::bind(st->get(), 5, maps.dump());
    if (sqlite3_step(st->get()) != SQLITE_DONE) return impl_->sqlError("create job");
    id = sqlite3_last_insert_rowid(impl_->db.get());
    return {};
  });
  if (!r) return r.error();
  return id;
}

Result<void> Outbox::saveUrlOptions(const std::string& url, const std::string& optionsJson) {
  return impl_->transaction([&]() -> Result<void> {
    auto st = impl_->prepare("INSERT INTO url_options(url, options) VALUES (?, ?) ON CONFLICT(url) DO UPDATE SET"
                             " options = excluded.options");
    if (!st) return st.error();
    Impl::bind(st->get(), 1, url);
    Impl::bind(st->get(), 2, optionsJson);
    if (sqlite3_step(st->get()) != SQLITE_DONE) return impl_->sqlError("save URL options");
    return {};
  });
}

Result<std::string> Outbox::urlOptions(const std::string& url) {
  std::lock_guard lock(impl_->mu);
  auto st = impl_->prepare("SELECT options FROM url_options WHERE url = ?");
  if (!st) return st.error();
  Impl::bind(st->get(), 1, url);
  if (sqlite3_step(st->get()) != SQLITE_ROW) return std::string();
  return col(st->get(), 0);
}

Result<void> Outbox::addInstances(std::int64_t job, std::vector<InstanceRow>& rows) {
  return impl_->transaction([&]() -> Result<void> {
    auto st = impl_->prepare(
        "INSERT INTO instance(job_id, sop_instance_uid, sop_class_uid, transfer_syntax_uid, study_uid, series_uid,"
        " foreign_patient_id, foreign_issuer, spool_path, sha256, size) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT(job_id, sop_instance_uid) DO UPDATE SET spool_path=excluded.spool_path, sha256=excluded.sha256,"
        " size=excluded.size RETURNING id");
    if (!st) return st.error();
    for (auto& r : rows) {
      sqlite3_reset(st->get());
      sqlite3_bind_int64(st->get(), 1, job);
      Impl::bind(st->get(), 2, r.sopInstanceUid);
      Impl::bind(st->get(), 3, r.sopClassUid);
      Impl::bind(st->get(), 4, r.transferSyntaxUid);
      Impl::bind(st->get(), 5, r.studyUid);
      Impl::bind(st->get(), 6, r.seriesUid);
      Impl::bind(st->get(), 7, r.foreignPatientId);
      Impl::bind(st->get(), 8, r.foreignIssuer);
      Impl::bind(st->get(), 9, r.spoolPath);
      Impl::bind(st->get(), 10, r.sha256);
      sqlite3_bind_int64(st->get(), 11, static_cast<sqlite3_int64>(r.size));
      if (sqlite3_step(st->get()) != SQLITE_ROW) return impl_->sqlError("add instance");
      r.id = sqlite3_column_int64(st->get(), 0);
      r.job = job;
      while (sqlite3_step(st->get()) == SQLITE_ROW) {
      }
    }
    return {};
  });
}

Result<void> Outbox::queueJob(std::int64_t job) {
  return impl_->transaction([&]() -> Result<void> {
    auto dests = impl_->prepare("SELECT destinations FROM job WHERE id = ?");
    if (!dests) return dests.error();
    sqlite3_bind_int64(dests->get(), 1, job);
    if (sqlite3_step(dests->get()) != SQLITE_ROW) return makeError("OUTBOX_NO_JOB", "no job " + std::to_string(job));
    auto list = json::parse(col(dests->get(), 0), nullptr, false);
    auto ins = impl_->prepare(
        "INSERT OR IGNORE INTO delivery(instance_id, destination) SELECT id, ? FROM instance WHERE job_id = ?");
    if (!ins) return ins.error();
    for (const auto& d : list) {
      sqlite3_reset(ins->get());
      Impl::bind(ins->get(), 1, d.get<std::string>());
      sqlite3_bind_int64(ins->get(), 2, job);
      if (sqlite3_step(ins->get()) != SQLITE_DONE) return impl_->sqlError("queue job");
    }
    auto up = impl_->prepare("UPDATE job SET state = 'queued' WHERE id = ?");
    if (!up) return up.error();
    sqlite3_bind_int64(up->get(), 1, job);
    sqlite3_step(up->get());
    return {};
  });
}

Result<void> Outbox::queueInstances(std::int64_t job, const std::vector<InstanceRow>& rows) {
  return impl_->transaction([&]() -> Result<void> {
    auto dests = impl_->prepare("SELECT destinations FROM job WHERE id = ?");
    if (!dests) return dests.error();
    sqlite3_bind_int64(dests->get(), 1, job);
    if (sqlite3_step(dests->get()) != SQLITE_ROW) return makeError("OUTBOX_NO_JOB", "no job " + std::to_string(job));
    auto list = json::parse(col(dests->get(), 0), nullptr, false);
    auto ins = impl_->prepare("INSERT OR IGNORE INTO delivery(instance_id, destination) VALUES (?, ?)");
    if (!ins) return ins.error();
    for (const auto& r : rows) {
      for (const auto& d : list) {
        sqlite3_reset(ins->get());
        sqlite3_bind_int64(ins->get(), 1, r.id);
        Impl::bind(ins->get(), 2, d.get<std::string>());
        if (sqlite3_step(ins->get()) != SQLITE_DONE) return impl_->sqlError("queue instance");
      }
    }
    return {};
  });
}

Result<std::vector<PatientMapping>> Outbox::mappings(std::int64_t job) {
  std::lock_guard lock(impl_->mu);
  auto st = impl_->prepare("SELECT mappings FROM job WHERE id = ?");
  if (!st) return st.error();
  sqlite3_bind_int64(st->get(), 1, job);
  if (sqlite3_step(st->get()) != SQLITE_ROW) return makeError("OUTBOX_NO_JOB", "no job " + std::to_string(job));
  std::vector<PatientMapping> out;
  auto j = json::parse(col(st->get(), 0), nullptr, false);
  if (j.is_array()) {
    for (const auto& m : j) out.push_back(planFromJson(m));
  }
  return out;
}

Result<int> Outbox::recoverInterrupted() {
  int n = 0;
  auto r = impl_->transaction([&]() -> Result<void> {
    if (auto e = impl_->exec("UPDATE delivery SET state = 'queued', next_attempt = 0 WHERE state = 'sending'"); !e)
      return e;
    n = sqlite3_changes(impl_->db.get());
    return {};
  });
  if (!r) return r.error();
  return n;
}

Result<std::vector<std::string>> Outbox::destinationsWithWork() {
  std::lock_guard lock(impl_->mu);
  auto st = impl_->prepare("SELECT DISTINCT destination FROM delivery WHERE state = 'queued'");
  if (!st) return st.error();
  std::vector<std::string> out;
  while (sqlite3_step(st->get()) == SQLITE_ROW) out.push_back(col(st->get(), 0));
  return out;
}

Result<std::vector<DeliveryRow>> Outbox::claim(const std::string& destination, std::size_t max) {
  std::vector<DeliveryRow> rows;
  auto r = impl_->transaction([&]() -> Result<void> {
    auto st = impl_->prepare(std::string("SELECT ") + kRowColumns +
                             " WHERE d.destination = ? AND d.state = 'queued' AND d.next_attempt <= julianday('now')"
                             " ORDER BY i.job_id, i.study_uid, i.series_uid, d.id LIMIT ?");
    if (!st) return st.error();
    Impl::bind(st->get(), 1, destination);
    sqlite3_bind_int64(st->get(), 2, static_cast<sqlite3_int64>(max));
    rows = impl_->readRows(st->get());
    auto up = impl_->prepare(
        "UPDATE delivery SET state = 'sending', attempts = attempts + 1, updated = julianday('now') WHERE id = ?");
    if (!up) return up.error();
    for (auto& row : rows) {
      sqlite3_reset(up->get());
      sqlite3_bind_int64(up->get(), 1, row.id);
      if (sqlite3_step(up->get()) != SQLITE_DONE) return impl_->sqlError("claim");
      row.state = DeliveryState::Sending;
      ++row.attempts;
    }
    return {};
  });
  if (!r) return r.error();
  return rows;
}

Result<void> Outbox::markStored(const std::vector<std::int64_t>& rows, const std::string& transactionUid) {
  return impl_->updateRows(rows,
                           "UPDATE delivery SET state = 'stored', transaction_uid = ?, last_error = '',"
                           " updated = julianday('now') WHERE id = ?",
                           {transactionUid});
}

Result<void> Outbox::markFinal(const std::vector<std::int64_t>& rows, DeliveryState state) {
  return impl_->updateRows(rows,
                           "UPDATE delivery SET state = ?, last_error = '', updated = julianday('now') WHERE id = ?",
                           {stateName(state)});
}

Result<void> Outbox::markRetry(const std::vector<std::int64_t>& rows, const std::string& error, int maxAttempts) {
  // Exponential backoff: 2, 4, 8 ... seconds, at most 5 minutes.
  return impl_->updateRows(
      rows,
      "UPDATE delivery SET state = CASE WHEN attempts >= ? THEN 'failed' ELSE 'queued' END, last_error = ?,"
      " next_attempt = julianday('now') + min(300, (1 << min(attempts, 8))) / 86400.0, updated = julianday('now')"
      " WHERE id = ?",
      {std::to_string(maxAttempts), error});
}

Result<void> Outbox::markRetryAfter(const std::vector<std::int64_t>& rows, const std::string& error, int seconds,
                                    int maxAttempts) {
  return impl_->updateRows(
      rows,
      "UPDATE delivery SET state = CASE WHEN attempts >= ? THEN 'failed' ELSE 'queued' END, last_error = ?,"
      " next_attempt = julianday('now') + ? / 86400.0, updated = julianday('now') WHERE id = ?",
      {std::to_string(maxAttempts), error, std::to_string(seconds)});
}

Result<void> Outbox::markFailed(const std::vector<std::int64_t>& rows, const std::string& error) {
  return impl_->updateRows(
      rows, "UPDATE delivery SET state = 'failed', last_error = ?, updated = julianday('now') WHERE id = ?", {error});
}

Result<void> Outbox::markCommitRequested(const std::vector<std::int64_t>& rows, const std::string& transactionUid) {
  return impl_->updateRows(rows,
                           "UPDATE delivery SET transaction_uid = ?, attempts = attempts + 1, updated = julianday('now')"
                           " WHERE id = ? AND state = 'stored'",
                           {transactionUid});
}

Result<void> Outbox::commitmentResult(const std::string& transactionUid, const std::vector<std::string>& committed,
                                      const std::vector<std::string>& failed) {
  return impl_->transaction([&]() -> Result<void> {
    auto ok = impl_->prepare(
        "UPDATE delivery SET state = 'committed', updated = julianday('now') WHERE transaction_uid = ? AND state ="
        " 'stored' AND instance_id IN (SELECT id FROM instance WHERE sop_instance_uid = ?)");
    auto bad = impl_->prepare(
        "UPDATE delivery SET state = CASE WHEN attempts >= 5 THEN 'failed' ELSE 'queued' END,"
        " last_error = 'storage commitment refused by the PACS', next_attempt = julianday('now') + 10 / 86400.0,"
        " updated = julianday('now') WHERE transaction_uid = ? AND state = 'stored'"
        " AND instance_id IN (SELECT id FROM instance WHERE sop_instance_uid = ?)");
    if (!ok || !bad) return makeError("OUTBOX_DATABASE", "prepare commitment", true);
    for (const auto& uid : committed) {
      sqlite3_reset(ok->get());
      Impl::bind(ok->get(), 1, transactionUid);
      Impl::bind(ok->get(), 2, uid);
      sqlite3_step(ok->get());
    }
    for (const auto& uid : failed) {
      sqlite3_reset(bad->get());
      Impl::bind(bad->get(), 1, transactionUid);
      Impl::bind(bad->get(), 2, uid);
      sqlite3_step(bad->get());
    }
    return {};
  });
}

Result<std::int64_t> Outbox::awaitingCommitment(const std::string& transactionUid) {
  std::lock_guard lock(impl_->mu);
  auto st = impl_->prepare("SELECT count(*) FROM delivery WHERE transaction_uid = ? AND state = 'stored'");
  if (!st) return st.error();
  Impl::bind(st->get(), 1, transactionUid);
  sqlite3_step(st->get());
  return sqlite3_column_int64(st->get(), 0);
}

Result<std::vector<DeliveryRow>> Outbox::overdueCommitments(int olderThanSeconds) {
  std::lock_guard lock(impl_->mu);
  auto st = impl_->prepare(std::string("SELECT ") + kRowColumns +
                           " WHERE d.state = 'stored' AND d.transaction_uid != '' AND d.updated < julianday('now') - ? "
                           "/ 86400.0");
  if (!st) return st.error();
  sqlite3_bind_int(st->get(), 1, olderThanSeconds);
  return impl_->readRows(st->get());
}

Result<std::vector<std::string>> Outbox::takeFinishedSpoolFiles() {
  std::vector<std::string> paths;
  auto r = impl_->transaction([&]() -> Result<void> {
    auto st = impl_->prepare(
        "SELECT i.id, i.spool_path FROM instance i WHERE i.spool_deleted = 0 AND EXISTS (SELECT 1 FROM delivery d WHERE"
        " d.instance_id = i.id) AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.instance_id = i.id AND d.state NOT IN"
        " ('committed', 'delivered', 'present'))");
    if (!st) return st.error();
    std::vector<std::int64_t> ids;
    while (sqlite3_step(st->get()) == SQLITE_ROW) {
      ids.push_back(sqlite3_column_int64(st->get(), 0));
      paths.push_back(col(st->get(), 1));
    }
    auto up = impl_->prepare("UPDATE instance SET spool_deleted = 1 WHERE id = ?");
    if (!up) return up.error();
    for (auto id : ids) {
      sqlite3_reset(up->get());
      sqlite3_bind_int64(up->get(), 1, id);
      sqlite3_step(up->get());
    }
    return {};
  });
  if (!r) return r.error();
  return paths;
}

Result<std::vector<JobStatus>> Outbox::status(std::optional<std::int64_t> job) {
  std::lock_guard lock(impl_->mu);
  auto st = impl_->prepare(
      std::string("SELECT id, created, source, volume_id, confirmed_by, state, destinations FROM job") +
      (job ? " WHERE id = ?" : "") + " ORDER BY id");
  if (!st) return st.error();
  if (job) sqlite3_bind_int64(st->get(), 1, *job);
  std::vector<JobStatus> out;
  while (sqlite3_step(st->get()) == SQLITE_ROW) {
    JobStatus j;
    j.id = sqlite3_column_int64(st->get(), 0);
    j.created = col(st->get(), 1);
    j.source = col(st->get(), 2);
    j.volumeId = col(st->get(), 3);
    j.confirmedBy = col(st->get(), 4);
    j.state = col(st->get(), 5);
    auto d = json::parse(col(st->get(), 6), nullptr, false);
    if (d.is_array()) {
      for (const auto& x : d) j.destinations.push_back(x.get<std::string>());
    }
    out.push_back(std::move(j));
  }
  for (auto& j : out) {
    auto c = impl_->prepare(
        "SELECT d.state, count(*) FROM delivery d JOIN instance i ON i.id = d.instance_id WHERE i.job_id = ?"
        " GROUP BY d.state ORDER BY d.state");
    sqlite3_bind_int64(c->get(), 1, j.id);
    while (sqlite3_step(c->get()) == SQLITE_ROW) j.counts.emplace_back(col(c->get(), 0), sqlite3_column_int64(c->get(), 1));
    auto e = impl_->prepare(
        "SELECT DISTINCT d.last_error FROM delivery d JOIN instance i ON i.id = d.instance_id WHERE i.job_id = ?"
        " AND d.last_error != '' LIMIT 10");
    sqlite3_bind_int64(e->get(), 1, j.id);
    while (sqlite3_step(e->get()) == SQLITE_ROW) j.errors.push_back(col(e->get(), 0));
    auto s = impl_->prepare("SELECT DISTINCT study_uid FROM instance WHERE job_id = ?");
    sqlite3_bind_int64(s->get(), 1, j.id);
    while (sqlite3_step(s->get()) == SQLITE_ROW) j.studyUids.push_back(col(s->get(), 0));
  }
  return out;
}

Result<int> Outbox::retryFailed(std::int64_t job) {
  int n = 0;
  auto r = impl_->transaction([&]() -> Result<void> {
    auto st = impl_->prepare(
        "UPDATE delivery SET state = 'queued', attempts = 0, next_attempt = 0 WHERE state = 'failed' AND instance_id IN"
        " (SELECT id FROM instance WHERE job_id = ? AND spool_deleted = 0)");
    if (!st) return st.error();
    sqlite3_bind_int64(st->get(), 1, job);
    sqlite3_step(st->get());
    n = sqlite3_changes(impl_->db.get());
    return {};
  });
  if (!r) return r.error();
  return n;
}

Result<std::vector<std::string>> Outbox::purge(std::int64_t job) {
  std::vector<std::string> paths;
  auto r = impl_->transaction([&]() -> Result<void> {
    auto st = impl_->prepare("SELECT spool_path FROM instance WHERE job_id = ? AND spool_deleted = 0");
    if (!st) return st.error();
    sqlite3_bind_int64(st->get(), 1, job);
    while (sqlite3_step(st->get()) == SQLITE_ROW) paths.push_back(col(st->get(), 0));
    auto del = impl_->prepare("DELETE FROM job WHERE id = ?");
    if (!del) return del.error();
    sqlite3_bind_int64(del->get(), 1, job);
    if (sqlite3_step(del->get()) != SQLITE_DONE) return impl_->sqlError("purge");
    if (sqlite3_changes(impl_->db.get()) == 0) return makeError("OUTBOX_NO_JOB", "no job " + std::to_string(job));
    return {};
  });
  if (!r) return r.error();
  return paths;
}

// True when the query, with the job as ?1, counts no row.
static Result<bool> noneFor(Outbox::Impl& impl, std::int64_t job, const char* sql) {
  std::lock_guard lock(impl.mu);
  auto st = impl.prepare(sql);
  if (!st) return st.error();
  sqlite3_bind_int64(st->get(), 1, job);
  sqlite3_step(st->get());
  return sqlite3_column_int64(st->get(), 0) == 0;
}

Result<bool> Outbox::jobSettled(std::int64_t job) {
  return noneFor(*impl_, job,
                 "SELECT (SELECT count(*) FROM delivery d JOIN instance i ON i.id = d.instance_id WHERE i.job_id = ?1"
                 " AND d.state IN ('queued', 'sending', 'stored')) + (SELECT count(*) FROM job WHERE id = ?1 AND state ="
                 " 'spooling')");
}

Result<bool> Outbox::jobSucceeded(std::int64_t job) {
  return noneFor(*impl_, job,
                 "SELECT count(*) FROM delivery d JOIN instance i ON i.id = d.instance_id WHERE i.job_id = ?1 AND"
                 " d.state NOT IN ('committed', 'delivered', 'present')");
}

}  // namespace discbridge::uplink
