#include "media_watch.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "discbridge/ingest/medium.h"

namespace fs = std::filesystem;

namespace discbridge::kiosk {

std::vector<MediaEvent> FolderWatcher::poll() {
  std::vector<MediaEvent> out;
  std::error_code ec;
  std::set<std::string> present;
  for (fs::directory_iterator it(folder_, ec), end; !ec && it != end; it.increment(ec)) {
    // Regular files only: a link could point anywhere.
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    std::string name = it->path().filename().string();
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if ((ext != ".iso" && ext != ".img") || name.front() == '.') continue;
    const std::string path = it->path().string();
    const auto size = it->file_size(ec);
    if (ec) continue;
    const auto mtime = static_cast<std::int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(it->last_write_time(ec).time_since_epoch()).count());
    present.insert(path);
    auto found = seen_.find(path);
    if (found == seen_.end() || found->second.size != size || found->second.mtime != mtime) {
      seen_[path] = Seen{size, mtime, false};  // new or still growing: look again next time
      continue;
    }
    if (!found->second.reported) {
      found->second.reported = true;
      out.push_back({MediaEvent::Kind::Inserted, path, path + "|" + std::to_string(size) + "|" + std::to_string(mtime)});
    }
  }
  for (auto it = seen_.begin(); it != seen_.end();) {
    if (!present.count(it->first)) {
      if (it->second.reported) out.push_back({MediaEvent::Kind::Removed, it->first, {}});
      it = seen_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<MediaEvent> DriveWatcher::poll() {
  std::vector<MediaEvent> out;
  std::set<std::string> now;
  for (const auto& d : ingest::listDrives()) {
    if (d.hasMedia) now.insert(d.device);
  }
  for (const auto& dev : now) {
    if (!withMedia_.count(dev)) out.push_back({MediaEvent::Kind::Inserted, dev, {}});
  }
  for (const auto& dev : withMedia_) {
    if (!now.count(dev)) out.push_back({MediaEvent::Kind::Removed, dev, {}});
  }
  withMedia_ = std::move(now);
  return out;
}

}  // namespace discbridge::kiosk
