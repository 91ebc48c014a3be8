// The site's DICOM Modality Worklist as patient directory: C-FIND (DCMTK) for
// today's scheduled patients; a hit also offers its accession number.
#pragma once

#include <memory>
#include <string>

#include "discbridge/reconcile/patient.h"

namespace discbridge::reconcile {

struct WorklistConfig {
  std::string host = "127.0.0.1";
  int port = 104;
  std::string calledAe = "WORKLIST";
  std::string callingAe = "DISCBRIDGE";
  int timeoutSeconds = 10;
  bool todayOnly = true;  // only procedure steps scheduled today
};

class WorklistDirectory final : public PatientDirectory {
 public:
  explicit WorklistDirectory(WorklistConfig config) : config_(std::move(config)) {}
  std::string kind() const override { return "worklist"; }
  Result<std::vector<LocalPatient>> candidates(const DirectoryQuery& query) override;
  Result<std::optional<LocalPatient>> find(const std::string& mrn, const std::string& issuer) override;

 private:
  struct Keys {
    std::string patientName;
    std::string patientId;
    std::string birthDate;
  };
  Result<std::vector<LocalPatient>> cfind(const Keys& keys);
  WorklistConfig config_;
};

}  // namespace discbridge::reconcile
