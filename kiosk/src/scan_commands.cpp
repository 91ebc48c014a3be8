// scan, repair, drives, eject: the ingest side of the command line.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli_common.h"
#include "discbridge/ingest/fileset.h"
#include "discbridge/ingest/repair.h"
#include "report_format.h"
#include "wiring.h"

namespace discbridge::kiosk {

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

int cmdEject(const std::string& device) {
  auto r = ingest::ejectDrive(device);
  if (!r) {
    std::fprintf(stderr, "discbridge: %s\n", r.error().message.c_str());
    return kFailure;
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

}  // namespace discbridge::kiosk
