// Writes a conformant copy of a medium's importable content: PS3.12 general
// purpose file IDs and a fresh DICOMDIR built in linear time.
#pragma once

#include <cstdint>
#include <string>

#include "discbridge/ingest/content.h"
#include "discbridge/ingest/medium.h"
#include "discbridge/ingest/result.h"

namespace discbridge::ingest {

struct RepairSummary {
  std::uint64_t instancesWritten = 0;
  std::uint64_t bytesWritten = 0;
  std::string dicomdirPath;
};

// outDir must not exist or be empty. Only importable instances of the report
// are written, each exactly once.
Result<RepairSummary> repairMedium(Medium& medium, const FileSetReport& report, const std::string& outDir);

}  // namespace discbridge::ingest
