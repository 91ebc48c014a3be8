#include "discbridge/ingest/content.h"

#include <algorithm>

namespace discbridge::ingest {

const char* severityName(Severity s) {
  switch (s) {
    case Severity::Info: return "info";
    case Severity::Warning: return "warning";
    case Severity::Error: return "error";
  }
  return "info";
}

std::size_t FileSetReport::count(const std::string& findingCode) const {
  return static_cast<std::size_t>(
      std::count_if(findings.begin(), findings.end(), [&](const Finding& f) { return f.code == findingCode; }));
}

}  // namespace discbridge::ingest
