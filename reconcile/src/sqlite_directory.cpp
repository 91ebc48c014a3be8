#include "discbridge/reconcile/sqlite_directory.h"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

namespace discbridge::reconcile {
namespace {

struct DbDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

const char* kSchema = R"SQL(
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE IF NOT EXISTS patient(
  id INTEGER PRIMARY KEY,
  mrn TEXT NOT NULL,
  issuer TEXT NOT NULL DEFAULT '',
  family TEXT NOT NULL DEFAULT '', given TEXT NOT NULL DEFAULT '', middle TEXT NOT NULL DEFAULT '',
  prefix TEXT NOT NULL DEFAULT '', suffix TEXT NOT NULL DEFAULT '',
  birth_date TEXT NOT NULL DEFAULT '', sex TEXT NOT NULL DEFAULT '',
  merged_into INTEGER REFERENCES patient(id),
  UNIQUE(mrn, issuer));
CREATE INDEX IF NOT EXISTS patient_birth ON patient(birth_date);
CREATE TABLE IF NOT EXISTS name_key(
  patient_id INTEGER NOT NULL REFERENCES patient(id),
  family_key TEXT NOT NULL, given_key TEXT NOT NULL,
  family_ph TEXT NOT NULL, given_ph TEXT NOT NULL,
  previous INTEGER NOT NULL DEFAULT 0,
  family TEXT NOT NULL DEFAULT '', given TEXT NOT NULL DEFAULT '', middle TEXT NOT NULL DEFAULT '',
  birth_date TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS name_family ON name_key(family_key, given_key, birth_date);
CREATE INDEX IF NOT EXISTS name_phonetic ON name_key(family_ph, given_ph, birth_date);
CREATE INDEX IF NOT EXISTS name_family_birth ON name_key(family_ph, birth_date);
CREATE INDEX IF NOT EXISTS name_patient ON name_key(patient_id);
CREATE TABLE IF NOT EXISTS other_id(
  patient_id INTEGER NOT NULL REFERENCES patient(id),
  id TEXT NOT NULL, issuer TEXT NOT NULL DEFAULT '',
  UNIQUE(patient_id, id, issuer));
CREATE INDEX IF NOT EXISTS other_id_id ON other_id(id);
)SQL";

std::string col(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? reinterpret_cast<const char*>(t) : "";
}

// Day and month swapped, when that is a different valid date.
std::string transposed(const std::string& d) {
  if (d.size() != 8) return {};
  std::string t = d.substr(0, 4) + d.substr(6, 2) + d.substr(4, 2);
  return (t != d && !normaliseDate(t).empty()) ? t : std::string();
}

}  // namespace

struct SqliteDirectory::Impl {
  std::unique_ptr<sqlite3, DbDeleter> db;

  Error sqlError(const std::string& what) const {
    return makeError("MPI_DATABASE", what + ": " + sqlite3_errmsg(db.get()));
  }

  Result<Stmt> prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db.get(), sql, -1, &s, nullptr) != SQLITE_OK) return sqlError("prepare");
    return Stmt(s);
  }

  // Statements used per candidate are prepared once and reset for each use.
  std::map<std::string, Stmt> cache;
  Result<sqlite3_stmt*> cached(const std::string& sql) {
    auto it = cache.find(sql);
    if (it == cache.end()) {
      auto st = prepare(sql.c_str());
      if (!st) return st.error();
      it = cache.emplace(sql, std::move(*st)).first;
    }
    sqlite3_reset(it->second.get());
    sqlite3_clear_bindings(it->second.get());
    return it->second.get();
  }

  Result<void> exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db.get(), sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : "";
      sqlite3_free(msg);
      return makeError("MPI_DATABASE", m);
    }
    return {};
  }

  static void bind(sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }

  // Follows merges to the surviving record.
  Result<std::int64_t> surviving(std::int64_t id) {
    for (int hops = 0; hops < 32; ++hops) {
      auto st = cached("SELECT merged_into FROM patient WHERE id = ?");
      if (!st) return st.error();
      sqlite3_bind_int64(*st, 1, id);
      if (sqlite3_step(*st) != SQLITE_ROW) return id;
      if (sqlite3_column_type(*st, 0) == SQLITE_NULL) return id;
      id = sqlite3_column_int64(*st, 0);
    }
    return makeError("MPI_MERGE_LOOP", "patient merges form a loop");
  }

  Result<LocalPatient> load(std::int64_t id) {
    auto st = cached("SELECT mrn, issuer, family, given, middle, prefix, suffix, birth_date, sex FROM patient WHERE id = ?");
    if (!st) return st.error();
    sqlite3_bind_int64(*st, 1, id);
    if (sqlite3_step(*st) != SQLITE_ROW) return makeError("MPI_NOT_FOUND", "no such patient");
    LocalPatient p;
    p.mrn = col(*st, 0);
    p.issuer = col(*st, 1);
    p.name = PersonName{col(*st, 2), col(*st, 3), col(*st, 4), col(*st, 5), col(*st, 6)};
    p.birthDate = col(*st, 7);
    p.sex = col(*st, 8);
    auto names = cached("SELECT family, given, middle FROM name_key WHERE patient_id = ? AND previous = 1");
    if (!names) return names.error();
    sqlite3_bind_int64(*names, 1, id);
    while (sqlite3_step(*names) == SQLITE_ROW) {
      p.previousNames.push_back(PersonName{col(*names, 0), col(*names, 1), col(*names, 2), "", ""});
    }
    auto ids = cached("SELECT id, issuer FROM other_id WHERE patient_id = ?");
    if (!ids) return ids.error();
    sqlite3_bind_int64(*ids, 1, id);
    while (sqlite3_step(*ids) == SQLITE_ROW) p.otherIds.push_back(OtherId{col(*ids, 0), col(*ids, 1)});
    return p;
  }

  // An empty issuer matches any issuer, when that leaves exactly one patient.
  Result<std::optional<std::int64_t>> idOf(const std::string& mrn, const std::string& issuer) {
    auto st = prepare("SELECT id FROM patient WHERE mrn = ? AND (issuer = ? OR ? = '') LIMIT 2");
    if (!st) return st.error();
    bind(st->get(), 1, mrn);
    bind(st->get(), 2, issuer);
    bind(st->get(), 3, issuer);
    std::optional<std::int64_t> found;
    while (sqlite3_step(st->get()) == SQLITE_ROW) {
      if (found) return makeError("MPI_AMBIGUOUS", "MRN " + mrn + " exists under several issuers; name the issuer");
      found = sqlite3_column_int64(st->get(), 0);
    }
    return found;
  }

  Result<void> writeNames(std::int64_t id, const LocalPatient& p) {
    auto del = prepare("DELETE FROM name_key WHERE patient_id = ?");
    if (!del) return del.error();
    sqlite3_bind_int64(del->get(), 1, id);
    sqlite3_step(del->get());
    auto ins = prepare(
        "INSERT INTO name_key(patient_id, family_key, given_key, family_ph, given_ph, previous, family, given, middle,"
        " birth_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!ins) return ins.error();
    auto add = [&](const PersonName& n, int previous) -> Result<void> {
      std::string fk = nameKey(n.family);
      std::string gk = nameKey(n.given);
      sqlite3_reset(ins->get());
      sqlite3_bind_int64(ins->get(), 1, id);
      bind(ins->get(), 2, fk);
      bind(ins->get(), 3, gk);
      bind(ins->get(), 4, phoneticKey(fk));
      bind(ins->get(), 5, phoneticKey(gk));
      sqlite3_bind_int(ins->get(), 6, previous);
      bind(ins->get(), 7, n.family);
      bind(ins->get(), 8, n.given);
      bind(ins->get(), 9, n.middle);
      bind(ins->get(), 10, p.birthDate);
      if (sqlite3_step(ins->get()) != SQLITE_DONE) return sqlError("insert name");
      return {};
    };
    if (auto r = add(p.name, 0); !r) return r;
    for (const auto& n : p.previousNames) {
      if (auto r = add(n, 1); !r) return r;
    }
    return {};
  }
};

SqliteDirectory::SqliteDirectory(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteDirectory::~SqliteDirectory() = default;

Result<std::unique_ptr<SqliteDirectory>> SqliteDirectory::open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  auto impl = std::make_unique<Impl>();
  impl->db.reset(raw);
  if (rc != SQLITE_OK) return makeError("MPI_DATABASE", "cannot open " + path + ": " + sqlite3_errstr(rc));
  sqlite3_busy_timeout(raw, 5000);
  // Version 1 indexes lacked the birth date in name_key: add it before the
  // schema's indexes refer to it.
  bool migrate = false;
  {
    auto has = impl->prepare("SELECT 1 FROM pragma_table_info('name_key') WHERE name = 'birth_date'");
    auto table = impl->prepare("SELECT 1 FROM sqlite_master WHERE name = 'name_key'");
    migrate = has && table && sqlite3_step(has->get()) != SQLITE_ROW && sqlite3_step(table->get()) == SQLITE_ROW;
  }
  if (migrate) {
    if (auto r = impl->exec("ALTER TABLE name_key ADD COLUMN birth_date TEXT NOT NULL DEFAULT '';"
                            "UPDATE name_key SET birth_date = (SELECT birth_date FROM patient WHERE id = patient_id);"
                            "DROP INDEX IF EXISTS name_family; DROP INDEX IF EXISTS name_phonetic;");
        !r)
      return r.error();
  }
  if (auto r = impl->exec(kSchema); !r) return r.error();
  return std::unique_ptr<SqliteDirectory>(new SqliteDirectory(std::move(impl)));
}

Result<std::size_t> SqliteDirectory::count() {
  auto st = impl_->prepare("SELECT count(*) FROM patient WHERE merged_into IS NULL");
  if (!st) return st.error();
  sqlite3_step(st->get());
  return static_cast<std::size_t>(sqlite3_column_int64(st->get(), 0));
}

Result<void> SqliteDirectory::upsert(const std::vector<LocalPatient>& patients, ImportReport& report) {
  if (auto r = impl_->exec("BEGIN IMMEDIATE"); !r) return r;
  auto ins = impl_->prepare(
      "INSERT INTO patient(mrn, issuer, family, given, middle, prefix, suffix, birth_date, sex) VALUES (?,?,?,?,?,?,?,?,?)"
      " ON CONFLICT(mrn, issuer) DO UPDATE SET family=excluded.family, given=excluded.given, middle=excluded.middle,"
      " prefix=excluded.prefix, suffix=excluded.suffix, birth_date=excluded.birth_date, sex=excluded.sex"
      " RETURNING id, (SELECT count(*) FROM name_key WHERE patient_id = patient.id)");
  auto other = impl_->prepare("INSERT OR IGNORE INTO other_id(patient_id, id, issuer) VALUES (?,?,?)");
  if (!ins || !other) {
    (void)impl_->exec("ROLLBACK");
    return ins ? other.error() : ins.error();
  }
  for (const auto& p : patients) {
    sqlite3_stmt* s = ins->get();
    sqlite3_reset(s);
    Impl::bind(s, 1, p.mrn);
    Impl::bind(s, 2, p.issuer);
    Impl::bind(s, 3, p.name.family);
    Impl::bind(s, 4, p.name.given);
    Impl::bind(s, 5, p.name.middle);
    Impl::bind(s, 6, p.name.prefix);
    Impl::bind(s, 7, p.name.suffix);
    Impl::bind(s, 8, p.birthDate);
    Impl::bind(s, 9, p.sex);
    if (sqlite3_step(s) != SQLITE_ROW) {
      auto e = impl_->sqlError("upsert " + p.mrn);
      (void)impl_->exec("ROLLBACK");
      return e;
    }
    std::int64_t id = sqlite3_column_int64(s, 0);
    bool existed = sqlite3_column_int64(s, 1) > 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
    }
    (existed ? report.updated : report.created)++;
    if (auto r = impl_->writeNames(id, p); !r) {
      (void)impl_->exec("ROLLBACK");
      return r;
    }
    for (const auto& o : p.otherIds) {
      sqlite3_reset(other->get());
      sqlite3_bind_int64(other->get(), 1, id);
      Impl::bind(other->get(), 2, o.id);
      Impl::bind(other->get(), 3, o.issuer);
      sqlite3_step(other->get());
    }
  }
  return impl_->exec("COMMIT");
}

Result<void> SqliteDirectory::merge(const std::string& retiredMrn, const std::string& survivingMrn,
                                    const std::string& issuer) {
  auto retired = impl_->idOf(retiredMrn, issuer);
  auto surviving = impl_->idOf(survivingMrn, issuer);
  if (!retired) return retired.error();
  if (!surviving) return surviving.error();
  if (!*surviving) return makeError("MPI_NOT_FOUND", "surviving MRN " + survivingMrn + " is not in the directory");
  if (!*retired) return makeError("MPI_NOT_FOUND", "retired MRN " + retiredMrn + " is not in the directory");
  if (**retired == **surviving) return makeError("MPI_MERGE_SELF", "a patient cannot be merged into itself");
  auto end = impl_->surviving(**surviving);
  if (!end) return end.error();
  if (*end == **retired) return makeError("MPI_MERGE_LOOP", "this merge would form a loop");
  auto st = impl_->prepare("UPDATE patient SET merged_into = ? WHERE id = ?");
  if (!st) return st.error();
  sqlite3_bind_int64(st->get(), 1, **surviving);
  sqlite3_bind_int64(st->get(), 2, **retired);
  if (sqlite3_step(st->get()) != SQLITE_DONE) return impl_->sqlError("merge");
  // The retired MRN stays findable as an other ID of the survivor.
  auto o = impl_->prepare("INSERT OR IGNORE INTO other_id(patient_id, id, issuer) VALUES (?,?,?)");
  if (!o) return o.error();
  sqlite3_bind_int64(o->get(), 1, **surviving);
  Impl::bind(o->get(), 2, retiredMrn);
  Impl::bind(o->get(), 3, issuer);
  sqlite3_step(o->get());
  return {};
}

Result<void> SqliteDirectory::addOtherId(const std::string& mrn, const std::string& issuer, const OtherId& other) {
  auto id = impl_->idOf(mrn, issuer);
  if (!id) return id.error();
  if (!*id) return makeError("MPI_NOT_FOUND", "MRN " + mrn + " is not in the directory");
  auto o = impl_->prepare("INSERT OR IGNORE INTO other_id(patient_id, id, issuer) VALUES (?,?,?)");
  if (!o) return o.error();
  sqlite3_bind_int64(o->get(), 1, **id);
  Impl::bind(o->get(), 2, other.id);
  Impl::bind(o->get(), 3, other.issuer);
  if (sqlite3_step(o->get()) != SQLITE_DONE) return impl_->sqlError("add other ID");
  return {};
}

Result<std::optional<LocalPatient>> SqliteDirectory::find(const std::string& mrn, const std::string& issuer) {
  auto id = impl_->idOf(mrn, issuer);
  if (!id) return id.error();
  if (!*id) return std::optional<LocalPatient>();
  auto end = impl_->surviving(**id);
  if (!end) return end.error();
  auto p = impl_->load(*end);
  if (!p) return p.error();
  return std::optional<LocalPatient>(std::move(*p));
}

Result<std::vector<LocalPatient>> SqliteDirectory::candidates(const DirectoryQuery& q) {
  const std::string fk = nameKey(q.name.family);
  const std::string gk = nameKey(q.name.given);
  const std::string fph = phoneticKey(fk);
  const std::string gph = phoneticKey(gk);
  const std::string dob = normaliseDate(q.birthDate);
  const std::string dobT = transposed(dob);
  std::vector<std::int64_t> ids;
  std::unordered_set<std::int64_t> seen;
  auto collect = [&](const std::string& sql, const std::vector<std::string>& args, std::size_t limit) -> Result<void> {
    auto st = impl_->cached(sql);
    if (!st) return st.error();
    for (std::size_t i = 0; i < args.size(); ++i) Impl::bind(*st, static_cast<int>(i + 1), args[i]);
    sqlite3_bind_int64(*st, static_cast<int>(args.size() + 1), static_cast<sqlite3_int64>(limit));
    while (sqlite3_step(*st) == SQLITE_ROW) {
      std::int64_t id = sqlite3_column_int64(*st, 0);
      if (seen.insert(id).second) ids.push_back(id);
    }
    return {};
  };
  auto run = [](std::initializer_list<Result<void>> rs) -> Result<void> {
    for (const auto& r : rs) {
      if (!r) return r;
    }
    return {};
  };
  // Blocking keys, most specific first, so that a cap on the number of
  // candidates drops the least likely ones. An empty key never blocks: a
  // blank or garbage name must not match everyone.
  if (!q.foreignId.empty()) {
    if (auto r = collect("SELECT patient_id FROM other_id WHERE id = ? AND (issuer = ? OR issuer = '' OR ? = '') LIMIT ?",
                         {q.foreignId, q.foreignIssuer, q.foreignIssuer}, q.limit);
        !r)
      return r.error();
  }
  const bool haveName = fk.size() >= 2;
  if (haveName && !dob.empty()) {
    // Name (as written, swapped, or sounding alike) with the birth date, its
    // day/month transposition or any one digit off.
    std::vector<std::string> dates{dob};
    if (!dobT.empty()) dates.push_back(dobT);
    for (std::size_t i = 0; i < dob.size(); ++i) {
      for (char c = '0'; c <= '9'; ++c) {
        if (c == dob[i]) continue;
        std::string d = dob;
        d[i] = c;
        if (!normaliseDate(d).empty()) dates.push_back(d);
      }
    }
    std::string in;
    for (std::size_t i = 0; i < dates.size(); ++i) in += (i ? ",?" : "?");
    auto withDates = [&](std::vector<std::string> args) {
      args.insert(args.end(), dates.begin(), dates.end());
      return args;
    };
    const std::string byKey = "SELECT patient_id FROM name_key WHERE family_key = ? AND given_key = ? AND birth_date IN (" + in + ") LIMIT ?";
    const std::string byPh = "SELECT patient_id FROM name_key WHERE family_ph = ? AND given_ph = ? AND birth_date IN (" + in + ") LIMIT ?";
    const std::string byFamily = "SELECT patient_id FROM name_key WHERE family_ph = ? AND birth_date IN (" + in + ") LIMIT ?";
    if (auto r = run({collect(byKey, withDates({fk, gk}), q.limit), collect(byKey, withDates({gk, fk}), q.limit),
                      collect(byPh, withDates({fph, gph}), q.limit), collect(byPh, withDates({gph, fph}), q.limit),
                      collect(byFamily, withDates({fph}), q.limit)});
        !r)
      return r.error();
  }
  if (!dob.empty()) {
    // The birth date with any name: catches names spelt or transliterated apart.
    if (auto r = collect("SELECT id FROM patient WHERE birth_date = ? LIMIT ?", {dob}, q.limit); !r) return r.error();
    if (!dobT.empty()) {
      if (auto r = collect("SELECT id FROM patient WHERE birth_date = ? LIMIT ?", {dobT}, q.limit); !r) return r.error();
    }
  }
  if (haveName) {
    // The name alone, for a birth date that is missing or wrong altogether;
    // capped, since common names are shared by many.
    const std::size_t few = dob.empty() ? q.limit : 20;
    const std::string byKey = "SELECT patient_id FROM name_key WHERE family_key = ? AND given_key = ? LIMIT ?";
    const std::string byPh = "SELECT patient_id FROM name_key WHERE family_ph = ? AND given_ph = ? LIMIT ?";
    if (auto r = run({collect(byKey, {fk, gk}, few), collect(byKey, {gk, fk}, few), collect(byPh, {fph, gph}, few),
                      collect(byPh, {gph, fph}, few)});
        !r)
      return r.error();
    // A name typed by staff may be a family name alone or a given name cut
    // short ("ROE RICH").
    const std::string byPrefix =
        "SELECT patient_id FROM name_key WHERE family_key = ? AND substr(given_key, 1, length(?)) = ? LIMIT ?";
    if (auto r = collect(byPrefix, {fk, gk, gk}, few); !r) return r.error();
  }
  std::vector<LocalPatient> out;
  std::set<std::int64_t> resolved;
  for (std::int64_t id : ids) {
    auto end = impl_->surviving(id);
    if (!end) return end.error();
    if (!resolved.insert(*end).second) continue;
    auto p = impl_->load(*end);
    if (!p) return p.error();
    out.push_back(std::move(*p));
    if (out.size() >= q.limit) break;
  }
  return out;
}

}  // namespace discbridge::reconcile
