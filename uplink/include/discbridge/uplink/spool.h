// The spool: instances copied off the disc (preamble zeroed, meta header
// added where missing) with a SHA-256 each, so nothing later needs the disc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "discbridge/ingest/content.h"
#include "discbridge/ingest/medium.h"
#include "discbridge/ingest/result.h"

namespace discbridge::uplink {

struct SpooledInstance {
  std::string path;  // absolute
  std::string sha256;  // hex
  std::uint64_t size = 0;
};

// SHA-256 of bytes in memory, lower-case hex.
std::string sha256Hex(std::string_view data);

class Spool {
 public:
  explicit Spool(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }

  // Copies one instance under <root>/<job>/. durable: fsync'd before it
  // returns; otherwise call sync() before anything relies on the copy.
  Result<SpooledInstance> add(ingest::Medium& medium, const ingest::InstanceRef& instance, std::int64_t job,
                              bool durable = true);
  // The same under <root>/<folder>/ (a kiosk session spools before it has a
  // job); folder is a name of ours, never from the medium.
  Result<SpooledInstance> addTo(ingest::Medium& medium, const ingest::InstanceRef& instance, const std::string& folder,
                                bool durable = true);
  // Flushes the given spool files and their directories to disk (only ours:
  // a PACS on the same file system is not made to flush its own writes).
  Result<void> sync(const std::vector<std::string>& paths);
  // Checks a spooled file against its recorded digest.
  static Result<void> verify(const std::string& path, const std::string& sha256);
  static Result<std::string> sha256File(const std::string& path);
  void remove(const std::string& path);
  void removeJob(std::int64_t job);
  void removeFolder(const std::string& folder);

 private:
  std::string root_;
};

}  // namespace discbridge::uplink
