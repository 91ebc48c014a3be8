#include "discbridge/ingest/library_logs.h"

#include <cdio/logging.h>
#include <dcmtk/oflog/oflog.h>

#include <mutex>

namespace discbridge::ingest {
namespace {

std::mutex mu;
std::function<void(const char*, const std::string&)> cdioSink;
LibraryLogLevel cdioLevel = LibraryLogLevel::Error;

void cdioHandler(cdio_log_level_t level, const char* message) {
  LibraryLogLevel l = level >= CDIO_LOG_ERROR  ? LibraryLogLevel::Error
                      : level >= CDIO_LOG_WARN ? LibraryLogLevel::Warning
                      : level >= CDIO_LOG_INFO ? LibraryLogLevel::Info
                                               : LibraryLogLevel::Debug;
  std::lock_guard lock(mu);
  if (l >= cdioLevel && cdioLevel != LibraryLogLevel::Off && cdioSink) cdioSink("libcdio", message ? message : "");
}

}  // namespace

void routeLibraryLogs(LibraryLogLevel level, std::function<void(const char*, const std::string&)> sink) {
  {
    std::lock_guard lock(mu);
    cdioSink = std::move(sink);
    cdioLevel = level;
  }
  cdio_log_set_handler(cdioHandler);
  // DCMTK logs through its own oflog; only its level is set here, so its
  // messages go to stderr when asked for (-vv) and are silent otherwise.
  OFLogger::LogLevel dcmtk = level == LibraryLogLevel::Debug     ? OFLogger::DEBUG_LOG_LEVEL
                             : level == LibraryLogLevel::Info    ? OFLogger::INFO_LOG_LEVEL
                             : level == LibraryLogLevel::Warning ? OFLogger::WARN_LOG_LEVEL
                             : level == LibraryLogLevel::Error   ? OFLogger::FATAL_LOG_LEVEL
                                                                 : OFLogger::OFF_LOG_LEVEL;
  OFLog::configure(dcmtk);
}

}  // namespace discbridge::ingest
