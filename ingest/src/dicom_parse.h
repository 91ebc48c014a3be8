// Identifies and parses one file of a medium with DCMTK: a Part 10 file, a
// bare dataset, a DICOMDIR or something else. Internal to ingest.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "discbridge/ingest/content.h"

class DcmFileFormat;

namespace discbridge::ingest::detail {

enum class FileKind { Instance, DicomDir, NotDicom, Corrupt };

struct ParsedFile {
  FileKind kind = FileKind::NotDicom;
  std::string what;  // NotDicom: what it looks like; Corrupt: why
  InstanceRef instance;  // path/size/firstSector filled by the caller
  // Identifying attributes, UTF-8.
  std::string patientId, issuer, patientName, birthDate, sex;
  std::string studyUid, studyDate, studyTime, studyId, accession, studyDescription;
  std::string seriesUid, modality, seriesDescription, seriesNumber;
  bool executablePreamble = false;
  std::string charsetNote;  // non-empty when the declared character set was wrong
  std::shared_ptr<DcmFileFormat> dicomdir;  // for FileKind::DicomDir
};

// bytes: the whole file. nameSaysDicomdir: the file is named DICOMDIR.
ParsedFile parseBuffer(std::span<const std::byte> bytes, bool nameSaysDicomdir);
// The same for a file too large to hold in memory (values are not loaded).
ParsedFile parseLocalFile(const std::string& localPath, std::uint64_t size, bool nameSaysDicomdir);

// What a non-DICOM file looks like, from its first bytes.
std::string describeContent(std::span<const std::byte> head);

}  // namespace discbridge::ingest::detail
