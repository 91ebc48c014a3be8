// Where discs come from: optical drives (media inserted, tray opened, media
// removed, as libcdio sees them) and a watched folder of ISO images. Each
// poll() returns what is new since the last one.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace discbridge::kiosk {

struct MediaEvent {
  enum class Kind { Inserted, Removed };
  Kind kind = Kind::Inserted;
  std::string source;  // a device or an image file
  std::string key;     // identifies this medium for de-duplication (images: path, size, time)
};

class FolderWatcher {
 public:
  explicit FolderWatcher(std::string folder) : folder_(std::move(folder)) {}
  // An image is reported once its size and time stayed the same for one
  // poll (it is no longer being copied in). Only regular files ending in
  // .iso or .img, directly in the folder.
  std::vector<MediaEvent> poll();

 private:
  struct Seen {
    std::uint64_t size = 0;
    std::int64_t mtime = 0;
    bool reported = false;
  };
  std::string folder_;
  std::map<std::string, Seen> seen_;
};

class DriveWatcher {
 public:
  std::vector<MediaEvent> poll();

 private:
  std::set<std::string> withMedia_;
};

}  // namespace discbridge::kiosk
