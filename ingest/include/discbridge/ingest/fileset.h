// Scanning a medium: every file read once in disc order, DICOM identified by
// content, the DICOMDIR checked against what is really there.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "discbridge/ingest/content.h"
#include "discbridge/ingest/medium.h"
#include "discbridge/ingest/result.h"

namespace discbridge::ingest {

struct ScanProgress {
  std::uint64_t filesDone = 0;
  std::uint64_t filesTotal = 0;
  std::uint64_t bytesDone = 0;
  std::uint64_t bytesTotal = 0;
};

struct ScanOptions {
  // Files up to this size are parsed in memory; larger ones are staged in
  // tempDir and parsed without loading their bulk data.
  std::uint64_t inMemoryLimit = 32ull << 20;
  std::uint64_t queueBytes = 48ull << 20;  // read-ahead between reader and parsers
  unsigned parserThreads = 0;             // 0: one per spare core, at least one
  std::string tempDir;                    // empty: the system's temporary directory
  std::function<void(const ScanProgress&)> progress;
};

// Fails only when the medium cannot be listed at all; every other problem is
// a finding in the report.
Result<FileSetReport> scanMedium(Medium& medium, const std::string& source, const ScanOptions& options = {});

}  // namespace discbridge::ingest
