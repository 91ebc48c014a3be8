// libFuzzer target for the medium and DICOMDIR path: the input is written as
// an image file and scanned like a patient disc (ISO 9660 / UDF parsing by
// libcdio, file identification, DICOMDIR reading and cross-check).
#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>

#include "discbridge/ingest/fileset.h"
#include "discbridge/ingest/library_logs.h"
#include "discbridge/ingest/medium.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static bool init = [] {
    discbridge::ingest::routeLibraryLogs(discbridge::ingest::LibraryLogLevel::Off, nullptr);
    return true;
  }();
  (void)init;
  std::string path = "/tmp/discbridge-fuzz-" + std::to_string(::getpid()) + ".iso";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  if (auto medium = discbridge::ingest::openMedium(path)) {
    discbridge::ingest::ScanOptions options;
    options.parserThreads = 1;
    (void)discbridge::ingest::scanMedium(**medium, path, options);
  }
  std::remove(path.c_str());
  return 0;
}
