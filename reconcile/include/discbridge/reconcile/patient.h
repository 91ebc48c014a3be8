// Local patients as the patient directory knows them, and the directory
// interface its back ends (SQLite index, DICOM Modality Worklist) implement.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "discbridge/ingest/result.h"
#include "discbridge/reconcile/normalise.h"

namespace discbridge::reconcile {

struct OtherId {
  std::string id;
  std::string issuer;
};

struct LocalPatient {
  std::string mrn;
  std::string issuer;
  PersonName name;  // UTF-8
  std::string birthDate;  // YYYYMMDD or empty
  std::string sex;        // M, F, O or empty
  std::vector<PersonName> previousNames;
  std::vector<OtherId> otherIds;
  // From a worklist item: the order the import may be attached to.
  std::string accessionNumber;
  std::string requestedProcedure;
};

// What is known of a patient on a disc, for looking up local candidates.
struct DirectoryQuery {
  PersonName name;
  std::string birthDate;
  std::string sex;
  std::string foreignId;
  std::string foreignIssuer;
  std::size_t limit = 200;
};

class PatientDirectory {
 public:
  virtual ~PatientDirectory() = default;
  virtual std::string kind() const = 0;
  // Candidates by blocking keys; unranked, at most query.limit.
  virtual Result<std::vector<LocalPatient>> candidates(const DirectoryQuery& query) = 0;
  // One patient by MRN; a merged (retired) MRN resolves to the surviving one.
  virtual Result<std::optional<LocalPatient>> find(const std::string& mrn, const std::string& issuer) = 0;
};

}  // namespace discbridge::reconcile
