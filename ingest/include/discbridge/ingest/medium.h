// A medium is where the files of a patient disc come from: an image file
// (ISO 9660 / Joliet / Rock Ridge / UDF), an optical drive, or a directory.
// Everything read through it is confined to it; nothing on it is executed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "discbridge/ingest/result.h"

namespace discbridge::ingest {

struct MediumEntry {
  std::string path;  // relative to the medium's root, '/'-separated, version suffix removed
  std::uint64_t size = 0;
  std::uint64_t firstSector = 0;  // for ordering reads; 0 where unknown
};

// Receives a file's bytes in order; returning false stops the read.
using ByteSink = std::function<bool(std::span<const std::byte>)>;

struct MediumListing {
  std::vector<MediumEntry> files;
  std::vector<std::string> skipped;  // entries refused while listing (links, loops, bad names)
};

class Medium {
 public:
  virtual ~Medium() = default;
  virtual std::string kind() const = 0;
  virtual std::string volumeId() const = 0;
  virtual Result<MediumListing> list() = 0;
  // Streams one listed file. A sector that stays unreadable after retries ends
  // the read with MEDIA_READ_ERROR; the medium stays usable for other files.
  virtual Result<void> read(const MediumEntry& entry, const ByteSink& sink) = 0;
};

struct MediumOptions {
  int readRetries = 3;
};

// SOURCE as on the command line: an image file, a directory, a device such as
// /dev/sr0, or "drive:" for the first drive holding media.
Result<std::unique_ptr<Medium>> openMedium(const std::string& source, const MediumOptions& options = {});

// Reads a whole file into memory, refusing files larger than maxBytes.
Result<std::vector<std::byte>> readAll(Medium& medium, const MediumEntry& entry, std::uint64_t maxBytes);

struct DriveInfo {
  std::string device;
  bool hasMedia = false;
  std::string mediaType;
};
std::vector<DriveInfo> listDrives();
Result<void> ejectDrive(const std::string& device);

}  // namespace discbridge::ingest
