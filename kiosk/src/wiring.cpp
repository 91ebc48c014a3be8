#include "wiring.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "discbridge/reconcile/worklist_directory.h"

namespace discbridge::kiosk {

using namespace discbridge::reconcile;

ingest::ScanOptions scanOptions(const Config& cfg) {
  ingest::ScanOptions o;
  o.inMemoryLimit = cfg.ingest.inMemoryLimitMb << 20;
  o.queueBytes = cfg.ingest.readAheadMb << 20;
  o.parserThreads = cfg.ingest.parserThreads;
  std::error_code ec;
  std::filesystem::path tmp = std::filesystem::path(cfg.dataDir) / "tmp";
  if (std::filesystem::create_directories(tmp, ec); !ec || std::filesystem::is_directory(tmp, ec)) {
    o.tempDir = tmp.string();
  }
  return o;
}

Result<std::unique_ptr<SqliteDirectory>> openIndex(const Config& cfg) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(cfg.mpiDatabase()).parent_path(), ec);
  return SqliteDirectory::open(cfg.mpiDatabase());
}

Result<std::unique_ptr<PatientDirectory>> openDirectory(const Config& cfg) {
  if (cfg.mpi.backend == "worklist") {
    WorklistConfig w{cfg.worklist.host,      cfg.worklist.port,           cfg.worklist.calledAe,
                     cfg.worklist.callingAe, cfg.worklist.timeoutSeconds, cfg.worklist.todayOnly};
    return std::unique_ptr<PatientDirectory>(std::make_unique<WorklistDirectory>(w));
  }
  auto idx = openIndex(cfg);
  if (!idx) return idx.error();
  return std::unique_ptr<PatientDirectory>(std::move(*idx));
}

MatchThresholds thresholds(const Config& cfg) {
  return MatchThresholds{cfg.match.strong, cfg.match.possible, cfg.match.minimum, cfg.match.maxCandidates};
}

Result<CoercionSettings> coercionSettings(const Config& cfg, const std::string& policy) {
  CoercionSettings settings;
  auto parsed = parseAccessionPolicy(policy.empty() ? cfg.coercion.accessionPolicy : policy);
  if (!parsed) return parsed.error();
  settings.accession = *parsed;
  settings.modifyingSystem = cfg.coercion.modifyingSystem;
  settings.issuerUniversalId = cfg.coercion.issuerUniversalId;
  settings.issuerUniversalIdType = cfg.coercion.issuerUniversalIdType;
  return settings;
}

Result<std::vector<Candidate>> searchDirectory(const Config& cfg, PatientDirectory& dir, const std::string& query) {
  std::vector<Candidate> ranked;
  std::string mrn;
  if (query.rfind("mrn:", 0) == 0) {
    mrn = query.substr(4);
  } else if (!query.empty() && std::all_of(query.begin(), query.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
             normaliseDate(query).empty()) {
    mrn = query;
  }
  if (!mrn.empty()) {
    auto p = dir.find(mrn, cfg.mpi.defaultIssuer);
    if (!p) return p.error();
    if (*p) {
      Candidate c;
      c.patient = **p;
      c.score = 1.0;
      c.strength = Strength::Strong;
      ranked.push_back(std::move(c));
    }
    return ranked;
  }
  // "Family^Given [YYYYMMDD]" or "Family Given [date]".
  DiscPatient q;
  std::string name;
  std::size_t start = 0;
  while (start < query.size()) {
    auto end = query.find(' ', start);
    if (end == std::string::npos) end = query.size();
    std::string tok = query.substr(start, end - start);
    if (!normaliseDate(tok).empty()) {
      q.birthDate = normaliseDate(tok);
    } else if (!tok.empty()) {
      name += name.empty() ? tok : (name.find('^') == std::string::npos ? "^" : " ") + tok;
    }
    start = end + 1;
  }
  q.name = name;
  auto found = dir.candidates(queryFor(q));
  if (!found) return found.error();
  // A person typed this: show what the directory found, best first, even
  // where a partial name scores low.
  auto t = thresholds(cfg);
  t.minimum = 0;
  return rank(q, *found, t);
}

void saveUrlOptions(const Config& cfg, uplink::Outbox& outbox, const std::vector<std::string>& destinations) {
  for (const auto& d : destinations) {
    auto resolved = cfg.destination(d);
    if (resolved && resolved->cloud && resolved->cloud->name == d) {
      const auto& c = *resolved->cloud;
      nlohmann::json options = {
          {"ca_file", c.caFile}, {"auth", c.auth}, {"user", c.user}, {"password", c.password}, {"token", c.token}};
      (void)outbox.saveUrlOptions(d, options.dump());
    }
  }
}

std::vector<DiscInstance> instancesInDiscOrder(
    const ingest::FileSetReport& report,
    const std::function<bool(const ingest::PatientOnMedium&, const ingest::StudyOnMedium&)>& keep) {
  std::vector<DiscInstance> out;
  for (const auto& p : report.patients) {
    for (const auto& st : p.studies) {
      if (keep && !keep(p, st)) continue;
      for (const auto& se : st.series) {
        for (const auto& i : se.instances) out.push_back(DiscInstance{&p, &st, &se, &i});
      }
    }
  }
  // Sector 0 means unknown (a folder): those keep the content model's order.
  std::stable_sort(out.begin(), out.end(), [](const DiscInstance& a, const DiscInstance& b) {
    return a.instance->firstSector < b.instance->firstSector;
  });
  return out;
}

uplink::InstanceRow instanceRow(const DiscInstance& item, const uplink::SpooledInstance& spooled) {
  uplink::InstanceRow row;
  row.sopInstanceUid = item.instance->sopInstanceUid;
  row.sopClassUid = item.instance->sopClassUid;
  row.transferSyntaxUid = item.instance->transferSyntaxUid;
  row.studyUid = item.study->studyInstanceUid;
  row.seriesUid = item.series->seriesInstanceUid;
  row.foreignPatientId = item.patient->patientId;
  row.foreignIssuer = item.patient->issuer;
  row.spoolPath = spooled.path;
  row.sha256 = spooled.sha256;
  row.size = spooled.size;
  return row;
}

}  // namespace discbridge::kiosk
