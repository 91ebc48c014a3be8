// Shared pieces of the discbridge subcommands: exit statuses of the contract
// (docs/cli.md) and opening plus scanning a source.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "discbridge/ingest/content.h"
#include "discbridge/ingest/medium.h"
#include "discbridge/kiosk/config.h"

namespace discbridge::kiosk {

inline constexpr int kOk = 0;
inline constexpr int kFailure = 1;
inline constexpr int kUsage = 2;
inline constexpr int kNoImportable = 3;
inline constexpr int kUnreadable = 4;

// Opens and scans SOURCE; on failure prints one line and sets status.
std::optional<ingest::FileSetReport> openAndScan(const Config& cfg, const std::string& source,
                                                 std::unique_ptr<ingest::Medium>& medium, int& status);

int cmdScan(const Config& cfg, const std::string& source, bool json);
int cmdRepair(const Config& cfg, const std::string& source, const std::string& out, bool json);
int cmdDrives(bool json);
int cmdEject(const std::string& device);

struct ImportArgs {
  std::string source;
  std::vector<std::string> patients;      // FOREIGN_ID=LOCAL_MRN
  std::vector<std::string> destinations;  // names or dicom:// URLs
  std::vector<std::string> studies;       // a subset, when given
  std::string confirmedBy;
  bool wait = false;
  bool queueOnly = false;  // spool and queue; `serve` delivers
  bool json = false;
};
int cmdImport(const Config& cfg, const ImportArgs& args);
int cmdOutbox(const Config& cfg, const std::string& action, std::int64_t job, bool json);
int cmdServe(const Config& cfg);
int cmdAuditVerify(const Config& cfg, bool json);
int cmdAuditForward(const Config& cfg);

int cmdMpiImport(const Config& cfg, const std::string& file, const std::string& format, bool json);
int cmdMpiSearch(const Config& cfg, const std::string& query, bool json);
int cmdMatch(const Config& cfg, const std::string& source, bool json);

}  // namespace discbridge::kiosk
