// The content model of a medium: what a scan found, as plain values that the
// other modules exchange (patients -> studies -> series -> instances, findings).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace discbridge::ingest {

enum class Severity { Info, Warning, Error };
const char* severityName(Severity s);

// Finding codes, stable: reports, tests and operators rely on them.
namespace code {
inline constexpr const char* kMediaReadError = "MEDIA_READ_ERROR";
inline constexpr const char* kPathOutsideMedium = "PATH_OUTSIDE_MEDIUM";
inline constexpr const char* kMissingFileMeta = "MISSING_FILE_META";
inline constexpr const char* kNotDicom = "NOT_DICOM";
inline constexpr const char* kExecutablePreamble = "EXECUTABLE_PREAMBLE";
inline constexpr const char* kCharsetMislabelled = "CHARSET_MISLABELLED";
inline constexpr const char* kDicomdirNonconformant = "DICOMDIR_NONCONFORMANT";
inline constexpr const char* kDicomdirMissingFile = "DICOMDIR_MISSING_FILE";
inline constexpr const char* kDicomdirUnreferencedFile = "DICOMDIR_UNREFERENCED_FILE";
inline constexpr const char* kDicomdirRecordMismatch = "DICOMDIR_RECORD_MISMATCH";
inline constexpr const char* kDicomdirMissing = "DICOMDIR_MISSING";
inline constexpr const char* kDicomdirInvalid = "DICOMDIR_INVALID";
inline constexpr const char* kCorruptInstance = "CORRUPT_INSTANCE";
inline constexpr const char* kDuplicateInstance = "DUPLICATE_INSTANCE";
inline constexpr const char* kMultiplePatients = "MULTIPLE_PATIENTS";
inline constexpr const char* kNoDicomContent = "NO_DICOM_CONTENT";
inline constexpr const char* kUnsupportedSopClass = "UNSUPPORTED_SOP_CLASS";
}  // namespace code

struct Finding {
  std::string code;
  Severity severity = Severity::Info;
  std::string path;  // on the medium, '/'-separated; empty for the whole medium
  std::string message;
};

// One importable DICOM instance on the medium.
struct InstanceRef {
  std::string path;  // on the medium
  std::uint64_t size = 0;
  std::uint64_t firstSector = 0;
  std::string sopClassUid;
  std::string sopInstanceUid;
  std::string transferSyntaxUid;
  std::string instanceNumber;
  bool hasFileMeta = true;     // false: a bare dataset, a meta header is added on copy
  bool hasPreamble = true;     // 128-byte preamble and "DICM" present
  bool metaConsistent = true;  // meta header agrees with the dataset (else rewritten on copy)
  std::uint64_t datasetOffset = 0;  // where the dataset starts in the file
  bool supportedSopClass = true;
};

struct SeriesOnMedium {
  std::string seriesInstanceUid;
  std::string modality;
  std::string description;
  std::string seriesNumber;
  std::vector<InstanceRef> instances;
};

struct StudyOnMedium {
  std::string studyInstanceUid;
  std::string studyDate;
  std::string studyTime;
  std::string studyId;
  std::string accessionNumber;
  std::string description;
  std::vector<std::string> modalities;  // distinct, in order of appearance
  std::vector<SeriesOnMedium> series;
};

struct PatientOnMedium {
  std::string patientId;
  std::string issuer;
  std::string name;  // UTF-8, DICOM PN form (family^given^middle^prefix^suffix)
  std::string birthDate;
  std::string sex;
  std::vector<StudyOnMedium> studies;
  // Every distinct value seen for this patient ID across its instances; more
  // than one is a conflict the staff must see before matching.
  std::vector<std::string> nameVariants;
  std::vector<std::string> birthDateVariants;
  std::vector<std::string> sexVariants;
};

struct ScanSummary {
  std::uint64_t filesSeen = 0;
  std::uint64_t instances = 0;  // unique importable instances
  std::uint64_t duplicates = 0;
  std::uint64_t corrupt = 0;
  std::uint64_t ignoredFiles = 0;
  std::uint64_t bytes = 0;  // bytes of the importable instances
  std::uint64_t bytesRead = 0;
};

struct FileSetReport {
  std::string source;
  std::string mediumKind;  // iso9660, udf, directory, drive
  std::string volumeId;
  std::vector<PatientOnMedium> patients;
  std::vector<Finding> findings;
  ScanSummary summary;

  bool hasImportable() const { return summary.instances > 0; }
  std::size_t count(const std::string& findingCode) const;
};

}  // namespace discbridge::ingest
