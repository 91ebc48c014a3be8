#include "discbridge/kiosk/cli.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "discbridge/ingest/fileset.h"
#include "discbridge/ingest/library_logs.h"
#include "discbridge/ingest/medium.h"
#include "discbridge/ingest/repair.h"
#include "discbridge/kiosk/config.h"
#include "report_format.h"

namespace discbridge::kiosk {
namespace {

// Exit statuses of the contract.
constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;
constexpr int kNoImportable = 3;
constexpr int kUnreadable = 4;

struct Globals {
  std::string configFile;
  std::string dataDir;
  int verbose = 0;
};

void setUpLogging(const Config& cfg, int verbose) {
  auto logger = spdlog::stderr_color_mt("discbridge");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^%l%$: %v");
  auto level = spdlog::level::from_str(cfg.logLevel);
  if (verbose == 1) level = spdlog::level::info;
  if (verbose >= 2) level = spdlog::level::debug;
  spdlog::set_level(level);
  ingest::routeLibraryLogs(verbose >= 2 ? ingest::LibraryLogLevel::Debug : ingest::LibraryLogLevel::Off,
                           [](const char* lib, const std::string& msg) { spdlog::debug("{}: {}", lib, msg); });
}

ingest::ScanOptions scanOptions(const Config& cfg) {
  ingest::ScanOptions o;
  o.inMemoryLimit = cfg.ingest.inMemoryLimitMb << 20;
  o.queueBytes = cfg.ingest.readAheadMb << 20;
  o.parserThreads = cfg.ingest.parserThreads;
  std::error_code ec;
  std::filesystem::path tmp = std::filesystem::path(cfg.dataDir) / "tmp";
  if (std::filesystem::create_directories(tmp, ec); !ec || std::filesystem::is_directory(tmp, ec)) {
    o.tempDir = tmp.string();
  }
  return o;
}

// Opens and scans; on failure prints one line and returns the exit status.
std::optional<ingest::FileSetReport> openAndScan(const Config& cfg, const std::string& source,
                                                 std::unique_ptr<ingest::Medium>& medium, int& status) {
  ingest::MediumOptions mo;
  mo.readRetries = cfg.ingest.readRetries;
  auto opened = ingest::openMedium(source, mo);
  if (!opened) {
    std::fprintf(stderr, "discbridge: cannot read %s: %s\n", source.c_str(), opened.error().message.c_str());
    status = kUnreadable;
    return std::nullopt;
  }
  medium = std::move(*opened);
  auto report = ingest::scanMedium(*medium, source, scanOptions(cfg));
  if (!report) {
    std::fprintf(stderr, "discbridge: cannot read %s: %s\n", source.c_str(), report.error().message.c_str());
    status = kUnreadable;
    return std::nullopt;
  }
  status = report->hasImportable() ? kOk : kNoImportable;
  return std::move(*report);
}

int cmdScan(const Config& cfg, const std::string& source, bool json) {
  std::unique_ptr<ingest::Medium> medium;
  int status = kOk;
  auto report = openAndScan(cfg, source, medium, status);
  if (!report) return status;
  std::fputs((json ? reportToJson(*report) : reportToText(*report)).c_str(), stdout);
  return status;
}

int cmdRepair(const Config& cfg, const std::string& source, const std::string& out, bool json) {
  std::unique_ptr<ingest::Medium> medium;
  int status = kOk;
  auto report = openAndScan(cfg, source, medium, status);
  if (!report) return status;
  if (!report->hasImportable()) {
    std::fprintf(stderr, "discbridge: %s holds no importable DICOM; nothing written\n", source.c_str());
    if (json) std::fputs(reportToJson(*report).c_str(), stdout);
    return kNoImportable;
  }
  auto written = ingest::repairMedium(*medium, *report, out);
  if (!written) {
    std::fprintf(stderr, "discbridge: repair failed: %s\n", written.error().message.c_str());
    return kFailure;
  }
  if (json) {
    nlohmann::json j = {{"out", out},
                        {"dicomdir", written->dicomdirPath},
                        {"instances", written->instancesWritten},
                        {"bytes", written->bytesWritten}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("Wrote %llu instances (%llu bytes) and %s\n",
                static_cast<unsigned long long>(written->instancesWritten),
                static_cast<unsigned long long>(written->bytesWritten), written->dicomdirPath.c_str());
  }
  return kOk;
}

int cmdDrives(bool json) {
  auto drives = ingest::listDrives();
  if (json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& d : drives) j.push_back({{"device", d.device}, {"has_media", d.hasMedia}, {"media", d.mediaType}});
    std::cout << j.dump(2) << "\n";
    return kOk;
  }
  if (drives.empty()) std::puts("No optical drive found.");
  for (const auto& d : drives) {
    std::printf("%s  %s\n", d.device.c_str(), d.hasMedia ? d.mediaType.c_str() : "no disc");
  }
  return kOk;
}

}  // namespace

int runCli(int argc, char** argv) {
  CLI::App app{"DiscBridge: reads patient imaging discs, checks and repairs them, and imports them."};
  app.set_version_flag("--version", "discbridge 0.1.0");
  app.require_subcommand(1);
  Globals g;
  app.add_option("--config", g.configFile, "configuration file (else $DISCBRIDGE_CONFIG, else /etc/discbridge/discbridge.toml)");
  app.add_option("--data-dir", g.dataDir, "data directory (else $DISCBRIDGE_HOME, else the XDG data dir)");
  app.add_flag("-v,--verbose", g.verbose, "more log output (-vv: debug, with library messages)");

  std::string source;
  std::string out;
  bool json = false;
  auto* scan = app.add_subcommand("scan", "read and check a medium, report what is on it");
  scan->add_option("SOURCE", source, "image file, drive (/dev/sr0 or drive:) or directory")->required();
  scan->add_flag("--json", json, "one JSON object on stdout");

  auto* repair = app.add_subcommand("repair", "write a conformant copy with a fresh DICOMDIR");
  repair->add_option("SOURCE", source, "image file, drive or directory")->required();
  repair->add_option("--out", out, "new or empty output directory")->required();
  repair->add_flag("--json", json, "summary as JSON");

  auto* drives = app.add_subcommand("drives", "list optical drives and whether they hold a disc");
  drives->add_flag("--json", json, "as JSON");

  std::string device;
  auto* eject = app.add_subcommand("eject", "eject a drive's tray");
  eject->add_option("DEVICE", device, "the drive (default: the system's default drive)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kOk : kUsage;
  }

  ConfigSources sources;
  if (!g.configFile.empty()) sources.configFile = g.configFile;
  if (!g.dataDir.empty()) sources.dataDir = g.dataDir;
  auto cfg = loadConfig(sources);
  if (!cfg) {
    std::fprintf(stderr, "discbridge: %s\n", cfg.error().message.c_str());
    return kUsage;
  }
  setUpLogging(*cfg, g.verbose);
  spdlog::debug("configuration: {}; data directory: {}",
                cfg->configFile.empty() ? "embedded defaults" : cfg->configFile, cfg->dataDir);

  if (*scan) return cmdScan(*cfg, source, json);
  if (*repair) return cmdRepair(*cfg, source, out, json);
  if (*drives) return cmdDrives(json);
  if (*eject) {
    auto r = ingest::ejectDrive(device);
    if (!r) {
      std::fprintf(stderr, "discbridge: %s\n", r.error().message.c_str());
      return kFailure;
    }
    return kOk;
  }
  return kUsage;
}

}  // namespace discbridge::kiosk
