// libFuzzer target for one file of a medium: identification, Part 10 and bare
// dataset parsing, DICOMDIR records, all through a directory medium.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "discbridge/ingest/fileset.h"
#include "discbridge/ingest/library_logs.h"
#include "discbridge/ingest/medium.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::filesystem::path dir = [] {
    discbridge::ingest::routeLibraryLogs(discbridge::ingest::LibraryLogLevel::Off, nullptr);
    auto d = std::filesystem::temp_directory_path() / ("discbridge-fuzz-dir-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  // The same bytes as an instance and as the file-set's DICOMDIR.
  for (const char* name : {"DICOMDIR", "IM1"}) {
    std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  if (auto medium = discbridge::ingest::openMedium(dir.string())) {
    discbridge::ingest::ScanOptions options;
    options.parserThreads = 1;
    (void)discbridge::ingest::scanMedium(**medium, dir.string(), options);
  }
  return 0;
}
