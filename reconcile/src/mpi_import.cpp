// Importers for the embedded patient index: CSV and HL7 v2 ADT. Malformed
// lines are reported with their line number and skipped; good lines are kept.
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "discbridge/reconcile/sqlite_directory.h"

namespace discbridge::reconcile {
namespace {

constexpr std::size_t kBatch = 20000;
constexpr std::size_t kMaxLine = 64 * 1024;

// One CSV record (RFC 4180 quoting); false when a quote is left open.
bool splitCsv(const std::string& line, std::vector<std::string>& out) {
  out.clear();
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(std::move(cur));
  return !quoted;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\t')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> splitOn(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

bool validMrn(const std::string& mrn) {
  if (mrn.empty() || mrn.size() > 64) return false;
  return std::none_of(mrn.begin(), mrn.end(), [](char c) { return c == '\\' || static_cast<unsigned char>(c) < 0x20; });
}

Result<void> flush(SqliteDirectory& dir, std::vector<LocalPatient>& batch, ImportReport& report) {
  if (batch.empty()) return {};
  auto r = dir.upsert(batch, report);
  batch.clear();
  return r;
}

// HL7 escape sequences in a field (\F\ \S\ \T\ \R\ \E\); others are dropped.
std::string unescapeHl7(const std::string& v, char field, char comp, char rep, char esc, char sub) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != esc) {
      out.push_back(v[i]);
      continue;
    }
    auto end = v.find(esc, i + 1);
    if (end == std::string::npos) break;
    std::string code = v.substr(i + 1, end - i - 1);
    if (code == "F") out.push_back(field);
    else if (code == "S") out.push_back(comp);
    else if (code == "R") out.push_back(rep);
    else if (code == "E") out.push_back(esc);
    else if (code == "T") out.push_back(sub);
    i = end;
  }
  return out;
}

}  // namespace

Result<ImportReport> SqliteDirectory::importCsv(const std::string& path, const std::string& defaultIssuer) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError("MPI_IMPORT", "cannot open " + path);
  ImportReport report;
  std::string line;
  std::vector<std::string> fields;
  std::map<std::string, std::size_t> col;
  std::size_t lineNo = 0;
  std::vector<LocalPatient> batch;
  while (std::getline(in, line)) {
    ++lineNo;
    if (lineNo == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 BOM
    if (line.size() > kMaxLine) {
      report.problems.push_back({lineNo, "line longer than 64 KiB"});
      continue;
    }
    if (trim(line).empty()) continue;
    if (!splitCsv(line, fields)) {
      report.problems.push_back({lineNo, "unbalanced quotes"});
      continue;
    }
    if (col.empty()) {
      for (std::size_t i = 0; i < fields.size(); ++i) col[lower(trim(fields[i]))] = i;
      for (const char* need : {"mrn", "family", "birth_date"}) {
        if (!col.count(need)) return makeError("MPI_IMPORT", path + ": header lacks the column '" + need + "'");
      }
      continue;
    }
    auto get = [&](const char* name) -> std::string {
      auto it = col.find(name);
      return it != col.end() && it->second < fields.size() ? trim(fields[it->second]) : std::string();
    };
    if (fields.size() > col.size() + 1) {
      report.problems.push_back({lineNo, std::to_string(fields.size()) + " fields, the header has " +
                                             std::to_string(col.size())});
      continue;
    }
    LocalPatient p;
    p.mrn = get("mrn");
    p.issuer = get("issuer").empty() ? defaultIssuer : get("issuer");
    p.name.family = get("family");
    p.name.given = get("given");
    p.name.middle = get("middle");
    std::string rawDate = get("birth_date");
    p.birthDate = normaliseDate(rawDate);
    std::string rawSex = get("sex");
    p.sex = normaliseSex(rawSex);
    if (!validMrn(p.mrn)) {
      report.problems.push_back({lineNo, "missing or invalid mrn"});
      continue;
    }
    if (nameKey(p.name.family).empty()) {
      report.problems.push_back({lineNo, "missing family name"});
      continue;
    }
    if (!rawDate.empty() && p.birthDate.empty()) {
      report.problems.push_back({lineNo, "invalid birth_date '" + rawDate + "'"});
      continue;
    }
    if (!rawSex.empty() && p.sex.empty() && lower(rawSex) != "u" && lower(rawSex) != "unknown") {
      report.problems.push_back({lineNo, "invalid sex '" + rawSex + "'"});
      continue;
    }
    for (const auto& prev : splitOn(get("previous_names"), '|')) {
      if (!trim(prev).empty()) p.previousNames.push_back(parsePersonName(trim(prev)));
    }
    for (const auto& other : splitOn(get("other_ids"), '|')) {
      std::string o = trim(other);
      if (o.empty()) continue;
      auto at = o.find('@');
      p.otherIds.push_back(at == std::string::npos ? OtherId{o, ""} : OtherId{o.substr(0, at), o.substr(at + 1)});
    }
    batch.push_back(std::move(p));
    if (batch.size() >= kBatch) {
      if (auto r = flush(*this, batch, report); !r) return r.error();
    }
  }
  if (col.empty()) return makeError("MPI_IMPORT", path + ": empty file, no header");
  if (auto r = flush(*this, batch, report); !r) return r.error();
  return report;
}

Result<ImportReport> SqliteDirectory::importHl7(const std::string& path, const std::string& defaultIssuer) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return makeError("MPI_IMPORT", "cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  // Segments end with CR (the standard), LF or CRLF (files edited by hand).
  std::vector<std::pair<std::size_t, std::string>> segments;
  std::size_t lineNo = 1;
  std::string cur;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r' || c == '\n') {
      if (!cur.empty()) segments.emplace_back(lineNo, cur);
      cur.clear();
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++lineNo;
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) segments.emplace_back(lineNo, cur);

  ImportReport report;
  struct Message {
    std::size_t line = 0;
    std::vector<std::pair<std::size_t, std::string>> segs;
  };
  std::vector<Message> messages;
  for (auto& s : segments) {
    if (s.second.rfind("MSH", 0) == 0) {
      messages.push_back(Message{s.first, {}});
    } else if (messages.empty()) {
      report.problems.push_back({s.first, "segment before the first MSH"});
      continue;
    }
    messages.back().segs.push_back(std::move(s));
  }

  std::vector<LocalPatient> batch;
  std::vector<std::tuple<std::size_t, std::string, std::string, std::string>> merges;
  for (const auto& m : messages) {
    const std::string& msh = m.segs.front().second;
    if (msh.size() < 8) {
      report.problems.push_back({m.line, "MSH segment too short"});
      continue;
    }
    const char fieldSep = msh[3];
    const char comp = msh[4];
    const char rep = msh[5];
    const char esc = msh[6];
    const char sub = msh[7];
    auto fieldsOf = [&](const std::string& seg) { return splitOn(seg, fieldSep); };
    auto mshFields = fieldsOf(msh);
    // MSH-1 is the separator itself, so MSH-n is at index n - 1.
    std::string type = mshFields.size() > 8 ? mshFields[8] : "";
    auto typeParts = splitOn(type, comp);
    std::string event = typeParts.size() > 1 ? typeParts[1] : "";
    if (typeParts[0] != "ADT") {
      report.problems.push_back({m.line, "not an ADT message (" + type + ")"});
      continue;
    }
    const std::vector<std::string>* pid = nullptr;
    std::vector<std::string> pidFields;
    std::vector<std::string> mrgFields;
    for (const auto& [ln, seg] : m.segs) {
      bool wellFormed = seg.size() >= 4 && seg[3] == fieldSep &&
                        std::all_of(seg.begin(), seg.begin() + 3, [](char c) {
                          return std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c));
                        });
      if (!wellFormed) {
        report.problems.push_back({ln, "not an HL7 segment; skipped"});
        continue;
      }
      if (seg.rfind("PID", 0) == 0) pidFields = fieldsOf(seg);
      if (seg.rfind("MRG", 0) == 0) mrgFields = fieldsOf(seg);
    }
    if (!pidFields.empty()) pid = &pidFields;
    if (pid == nullptr) {
      report.problems.push_back({m.line, "ADT^" + event + " without PID segment"});
      continue;
    }
    auto field = [&](const std::vector<std::string>& f, std::size_t n) { return n < f.size() ? f[n] : std::string(); };
    // PID-3: repetitions of ID^check^scheme^assigning authority^type; the MR one wins.
    auto firstId = [&](const std::string& list, std::string& issuer) {
      std::string chosen;
      for (const auto& r : splitOn(list, rep)) {
        auto c = splitOn(r, comp);
        std::string id = unescapeHl7(c[0], fieldSep, comp, rep, esc, sub);
        std::string auth = c.size() > 3 ? splitOn(c[3], sub)[0] : "";
        std::string kind = c.size() > 4 ? c[4] : "";
        if (id.empty()) continue;
        if (chosen.empty() || kind == "MR") {
          chosen = id;
          issuer = auth;
        }
        if (kind == "MR") break;
      }
      return chosen;
    };
    std::string issuer;
    std::string mrn = firstId(field(*pid, 3), issuer);
    if (issuer.empty()) issuer = defaultIssuer;
    if (!validMrn(mrn)) {
      report.problems.push_back({m.line, "PID-3 holds no usable patient identifier"});
      continue;
    }
    if (event == "A40") {
      std::string retiredIssuer;
      std::string retired = firstId(field(mrgFields, 1), retiredIssuer);
      if (retired.empty()) {
        report.problems.push_back({m.line, "ADT^A40 without MRG-1"});
        continue;
      }
      merges.emplace_back(m.line, retired, mrn, issuer);
      continue;
    }
    if (event != "A01" && event != "A04" && event != "A08" && event != "A28" && event != "A31") {
      report.problems.push_back({m.line, "ADT^" + event + " is not a registration or update; ignored"});
      continue;
    }
    LocalPatient p;
    p.mrn = mrn;
    p.issuer = issuer;
    auto names = splitOn(field(*pid, 5), rep);
    auto xpn = splitOn(names[0], comp);
    auto part = [&](std::size_t i) { return i < xpn.size() ? unescapeHl7(xpn[i], fieldSep, comp, rep, esc, sub) : ""; };
    p.name.family = splitOn(part(0), sub)[0];
    p.name.given = part(1);
    p.name.middle = part(2);
    p.name.suffix = part(3);
    p.name.prefix = part(4);
    for (std::size_t i = 1; i < names.size(); ++i) {
      auto c = splitOn(names[i], comp);
      PersonName prev{splitOn(c[0], sub)[0], c.size() > 1 ? c[1] : "", c.size() > 2 ? c[2] : "", "", ""};
      if (!prev.family.empty()) p.previousNames.push_back(prev);
    }
    std::string dob = field(*pid, 7);
    p.birthDate = normaliseDate(dob.substr(0, std::min<std::size_t>(8, dob.size())));
    p.sex = normaliseSex(field(*pid, 8));
    if (nameKey(p.name.family).empty()) {
      report.problems.push_back({m.line, "PID-5 holds no family name"});
      continue;
    }
    if (!dob.empty() && p.birthDate.empty()) {
      report.problems.push_back({m.line, "PID-7 is not a date"});
      continue;
    }
    batch.push_back(std::move(p));
    if (batch.size() >= kBatch) {
      if (auto r = flush(*this, batch, report); !r) return r.error();
    }
  }
  if (auto r = flush(*this, batch, report); !r) return r.error();
  for (const auto& [line, retired, surviving, issuer] : merges) {
    if (auto r = merge(retired, surviving, issuer); !r) {
      report.problems.push_back({line, r.error().message});
    } else {
      ++report.merged;
    }
  }
  return report;
}

}  // namespace discbridge::reconcile
