// A small picture of an image instance, for the screen that shows a patient
// what was found on their disc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "discbridge/ingest/result.h"

namespace discbridge::ingest {

struct Thumbnail {
  unsigned width = 0;
  unsigned height = 0;
  unsigned channels = 1;  // 1: grey, 3: RGB
  std::vector<std::uint8_t> pixels;  // row by row, 8 bits per channel
};

// Renders the first frame of a Part 10 file (a spool copy, not the disc)
// scaled to fit maxEdge, with the file's first VOI window or its min/max.
// Compressed pixel data is decoded where DCMTK can; anything else (no pixel
// data, implausible dimensions, a codec we lack) is an error, never a crash.
Result<Thumbnail> renderThumbnail(const std::string& file, unsigned maxEdge = 160);

// Writes a thumbnail as binary PGM/PPM (Qt and most viewers read these).
Result<void> writeNetpbm(const Thumbnail& thumbnail, const std::string& path);

}  // namespace discbridge::ingest
