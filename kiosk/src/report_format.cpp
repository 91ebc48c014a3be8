#include "report_format.h"

#include <nlohmann/json.hpp>

#include <sstream>

namespace discbridge::kiosk {

using nlohmann::json;

std::string reportToJson(const ingest::FileSetReport& r) {
  json patients = json::array();
  for (const auto& p : r.patients) {
    json studies = json::array();
    for (const auto& s : p.studies) {
      json series = json::array();
      for (const auto& se : s.series) {
        json instances = json::array();
        for (const auto& i : se.instances) {
          instances.push_back({{"path", i.path},
                               {"sop_class_uid", i.sopClassUid},
                               {"sop_instance_uid", i.sopInstanceUid},
                               {"transfer_syntax_uid", i.transferSyntaxUid},
                               {"instance_number", i.instanceNumber},
                               {"size", i.size}});
        }
        series.push_back({{"series_instance_uid", se.seriesInstanceUid},
                          {"modality", se.modality},
                          {"description", se.description},
                          {"series_number", se.seriesNumber},
                          {"instance_count", se.instances.size()},
                          {"instances", std::move(instances)}});
      }
      studies.push_back({{"study_instance_uid", s.studyInstanceUid},
                         {"accession_number", s.accessionNumber},
                         {"study_date", s.studyDate},
                         {"study_time", s.studyTime},
                         {"study_id", s.studyId},
                         {"description", s.description},
                         {"modalities", s.modalities},
                         {"series", std::move(series)}});
    }
    patients.push_back({{"patient_id", p.patientId},
                        {"issuer", p.issuer},
                        {"name", p.name},
                        {"birth_date", p.birthDate},
                        {"sex", p.sex},
                        {"studies", std::move(studies)}});
  }
  json findings = json::array();
  for (const auto& f : r.findings) {
    findings.push_back(
        {{"code", f.code}, {"severity", ingest::severityName(f.severity)}, {"path", f.path}, {"message", f.message}});
  }
  json out = {{"source", r.source},
              {"medium", {{"kind", r.mediumKind}, {"volume_id", r.volumeId}}},
              {"patients", std::move(patients)},
              {"summary",
               {{"files", r.summary.filesSeen},
                {"instances", r.summary.instances},
                {"duplicates", r.summary.duplicates},
                {"corrupt", r.summary.corrupt},
                {"ignored_files", r.summary.ignoredFiles},
                {"bytes", r.summary.bytes}}},
              {"findings", std::move(findings)}};
  return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string reportToText(const ingest::FileSetReport& r) {
  std::ostringstream o;
  o << "Medium: " << r.source << " (" << r.mediumKind;
  if (!r.volumeId.empty()) o << ", volume " << r.volumeId;
  o << ")\n";
  o << r.summary.instances << " importable instances, " << r.summary.bytes << " bytes; " << r.summary.duplicates
    << " duplicates, " << r.summary.corrupt << " corrupt, " << r.summary.ignoredFiles << " other files ignored\n";
  for (const auto& p : r.patients) {
    o << "\nPatient " << p.name << "  ID " << p.patientId;
    if (!p.issuer.empty()) o << " (" << p.issuer << ")";
    o << "  born " << (p.birthDate.empty() ? "?" : p.birthDate) << "  sex " << (p.sex.empty() ? "?" : p.sex) << "\n";
    for (const auto& s : p.studies) {
      o << "  Study " << (s.studyDate.empty() ? "(no date)" : s.studyDate) << "  " << s.description;
      if (!s.accessionNumber.empty()) o << "  accession " << s.accessionNumber;
      o << "\n    " << s.studyInstanceUid << "\n";
      for (const auto& se : s.series) {
        o << "    Series " << se.seriesNumber << " " << se.modality << "  " << se.description << "  ("
          << se.instances.size() << " instances)\n";
      }
    }
  }
  if (!r.findings.empty()) {
    o << "\nFindings:\n";
    for (const auto& f : r.findings) {
      o << "  [" << ingest::severityName(f.severity) << "] " << f.code;
      if (!f.path.empty()) o << " " << f.path;
      o << ": " << f.message << "\n";
    }
  }
  return o.str();
}

}  // namespace discbridge::kiosk
