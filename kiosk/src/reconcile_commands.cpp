// mpi import, mpi search, match: the reconcile side of the command line.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli_common.h"
#include "wiring.h"
#include "discbridge/reconcile/matcher.h"
#include "discbridge/reconcile/sqlite_directory.h"
#include "discbridge/reconcile/worklist_directory.h"

namespace discbridge::kiosk {
namespace {

using nlohmann::json;
using namespace discbridge::reconcile;

json candidateJson(const Candidate& c) {
  json fields = json::array();
  for (const auto& f : c.fields) {
    json jf = {{"field", f.field}, {"disc", f.disc}, {"local", f.local}, {"agreement", agreementName(f.agreement)}};
    if (!f.note.empty()) jf["note"] = f.note;
    fields.push_back(std::move(jf));
  }
  json j = {{"mrn", c.patient.mrn},
            {"issuer", c.patient.issuer},
            {"name", formatPersonName(c.patient.name)},
            {"birth_date", c.patient.birthDate},
            {"sex", c.patient.sex},
            {"score", std::round(c.score * 1000) / 1000},
            {"strength", strengthName(c.strength)},
            {"fields", std::move(fields)}};
  if (!c.patient.accessionNumber.empty()) j["accession_number"] = c.patient.accessionNumber;
  if (!c.patient.requestedProcedure.empty()) j["requested_procedure"] = c.patient.requestedProcedure;
  return j;
}

void printCandidates(const std::vector<Candidate>& cands) {
  if (cands.empty()) std::puts("    no local candidate");
  for (const auto& c : cands) {
    std::printf("    %-8s %.2f  MRN %s%s%s  %s  born %s  sex %s\n", strengthName(c.strength), c.score,
                c.patient.mrn.c_str(), c.patient.issuer.empty() ? "" : " ", c.patient.issuer.c_str(),
                formatPersonName(c.patient.name).c_str(), c.patient.birthDate.c_str(), c.patient.sex.c_str());
    for (const auto& f : c.fields) {
      if (f.agreement == Agreement::Missing && f.field == "other_id") continue;
      std::printf("             %-12s %-10s disc '%s' local '%s'%s%s\n", f.field.c_str(), agreementName(f.agreement),
                  f.disc.c_str(), f.local.c_str(), f.note.empty() ? "" : "  ", f.note.c_str());
    }
  }
}

std::string detectFormat(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  char head[3] = {};
  in.read(head, 3);
  return std::string(head, 3) == "MSH" ? "hl7" : "csv";
}

}  // namespace

int cmdMpiImport(const Config& cfg, const std::string& file, const std::string& format, bool jsonOut) {
  auto idx = openIndex(cfg);
  if (!idx) {
    std::fprintf(stderr, "discbridge: %s\n", idx.error().message.c_str());
    return kFailure;
  }
  std::string fmt = format == "auto" ? detectFormat(file) : format;
  auto report = fmt == "hl7" ? (*idx)->importHl7(file, cfg.mpi.defaultIssuer)
                             : (*idx)->importCsv(file, cfg.mpi.defaultIssuer);
  if (!report) {
    std::fprintf(stderr, "discbridge: %s\n", report.error().message.c_str());
    return kFailure;
  }
  if (jsonOut) {
    json problems = json::array();
    for (const auto& p : report->problems) problems.push_back({{"line", p.line}, {"message", p.message}});
    json j = {{"database", cfg.mpiDatabase()}, {"format", fmt},       {"created", report->created},
              {"updated", report->updated},    {"merged", report->merged}, {"problems", std::move(problems)}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("%zu created, %zu updated, %zu merged, %zu lines rejected (%s)\n", report->created, report->updated,
                report->merged, report->problems.size(), cfg.mpiDatabase().c_str());
    for (const auto& p : report->problems) std::printf("  line %zu: %s\n", p.line, p.message.c_str());
  }
  bool any = report->created + report->updated + report->merged > 0;
  return any || report->problems.empty() ? kOk : kNoImportable;
}

int cmdMpiSearch(const Config& cfg, const std::string& query, bool jsonOut) {
  auto dir = openDirectory(cfg);
  if (!dir) {
    std::fprintf(stderr, "discbridge: %s\n", dir.error().message.c_str());
    return kFailure;
  }
  auto found = searchDirectory(cfg, **dir, query);
  if (!found) {
    std::fprintf(stderr, "discbridge: %s\n", found.error().message.c_str());
    return kFailure;
  }
  const auto& ranked = *found;
  if (jsonOut) {
    json arr = json::array();
    for (const auto& c : ranked) arr.push_back(candidateJson(c));
    std::cout << json{{"directory", (*dir)->kind()}, {"candidates", std::move(arr)}}.dump(2) << "\n";
  } else {
    printCandidates(ranked);
  }
  return kOk;
}

int cmdMatch(const Config& cfg, const std::string& source, bool jsonOut) {
  std::unique_ptr<ingest::Medium> medium;
  int status = kOk;
  auto report = openAndScan(cfg, source, medium, status);
  if (!report) return status;
  auto dir = openDirectory(cfg);
  if (!dir) {
    std::fprintf(stderr, "discbridge: %s\n", dir.error().message.c_str());
    return kFailure;
  }
  json patients = json::array();
  for (const auto& p : report->patients) {
    DiscPatient disc = discPatientOf(p);
    auto found = (*dir)->candidates(queryFor(disc));
    if (!found) {
      std::fprintf(stderr, "discbridge: patient directory: %s\n", found.error().message.c_str());
      return kFailure;
    }
    auto ranked = rank(disc, *found, thresholds(cfg));
    auto clashes = conflicts(p);
    if (jsonOut) {
      json cands = json::array();
      for (const auto& c : ranked) cands.push_back(candidateJson(c));
      patients.push_back({{"patient_id", p.patientId},
                          {"issuer", p.issuer},
                          {"name", p.name},
                          {"birth_date", p.birthDate},
                          {"sex", p.sex},
                          {"conflicts", clashes},
                          {"candidates", std::move(cands)}});
    } else {
      std::printf("Disc patient %s  ID %s%s%s  born %s  sex %s\n", p.name.c_str(), p.patientId.c_str(),
                  p.issuer.empty() ? "" : " / ", p.issuer.c_str(), p.birthDate.c_str(), p.sex.c_str());
      for (const auto& c : clashes) std::printf("  CONFLICT: %s\n", c.c_str());
      printCandidates(ranked);
    }
  }
  if (jsonOut) {
    std::cout << json{{"source", source}, {"directory", (*dir)->kind()}, {"patients", std::move(patients)}}.dump(
                     2, ' ', false, json::error_handler_t::replace)
              << "\n";
  }
  return status;
}

}  // namespace discbridge::kiosk
