// Reads a DICOMDIR's records tolerantly and checks them against PS3.3 Annex F.
// Internal to ingest; fileset.cpp cross-checks the references with the files.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "discbridge/ingest/content.h"

class DcmFileFormat;

namespace discbridge::ingest::detail {

// One record that references a file, with the keys of its ancestors.
struct DirReference {
  std::string recordType;
  std::string rawFileId;                                // as written, for messages
  std::optional<std::vector<std::string>> components;  // nullopt: would leave the medium
  std::string sopClassUid, sopInstanceUid, transferSyntaxUid;
  std::string patientId, studyUid, seriesUid;  // from the PATIENT/STUDY/SERIES ancestors
  bool havePatient = false, haveStudy = false, haveSeries = false;
};

struct DicomdirContent {
  std::vector<DirReference> references;
  std::vector<std::string> problems;  // Annex F violations, one line each
};

DicomdirContent readDicomdir(DcmFileFormat& ff);

}  // namespace discbridge::ingest::detail
