// The embedded patient index: SQLite, filled from CSV and HL7 v2 ADT.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "discbridge/reconcile/patient.h"

namespace discbridge::reconcile {

struct ImportProblem {
  std::size_t line = 0;  // 1-based line in the file
  std::string message;
};

struct ImportReport {
  std::size_t created = 0;
  std::size_t updated = 0;
  std::size_t merged = 0;
  std::vector<ImportProblem> problems;  // malformed lines, each skipped
};

class SqliteDirectory final : public PatientDirectory {
 public:
  static Result<std::unique_ptr<SqliteDirectory>> open(const std::string& path);
  ~SqliteDirectory() override;

  std::string kind() const override { return "sqlite"; }
  Result<std::vector<LocalPatient>> candidates(const DirectoryQuery& query) override;
  Result<std::optional<LocalPatient>> find(const std::string& mrn, const std::string& issuer) override;

  // Creates or updates by (mrn, issuer); one transaction per call.
  Result<void> upsert(const std::vector<LocalPatient>& patients, ImportReport& report);
  // The retired MRN now resolves to the surviving one (HL7 A40).
  Result<void> merge(const std::string& retiredMrn, const std::string& survivingMrn, const std::string& issuer);
  // Records that a foreign ID belongs to a local patient (after an import).
  Result<void> addOtherId(const std::string& mrn, const std::string& issuer, const OtherId& other);
  Result<std::size_t> count();

  // Files: CSV with a header row (docs/mpi.md), or HL7 v2 ADT messages.
  Result<ImportReport> importCsv(const std::string& path, const std::string& defaultIssuer);
  Result<ImportReport> importHl7(const std::string& path, const std::string& defaultIssuer);

 private:
  struct Impl;
  explicit SqliteDirectory(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace discbridge::reconcile
