// ISO 9660 (with Joliet and Rock Ridge names) through libiso9660, on an image
// file or on a drive opened with libcdio. Both share the directory walk and
// the sector reader; only the two libcdio entry points differ.
#include <cdio/cdio.h>
#include <cdio/bytesex.h>
#include <cdio/iso9660.h>

#include <algorithm>
#include <set>
#include <vector>

#include "media_impl.h"
#include "discbridge/ingest/names.h"

namespace discbridge::ingest::detail {
namespace {

constexpr std::size_t kBlock = ISO_BLOCKSIZE;
constexpr long kChunkBlocks = 128;  // 256 KiB per read call: streams on a drive
constexpr int kMaxDepth = 32;
constexpr std::size_t kMaxEntries = 2'000'000;
// libiso9660 allocates a directory's recorded size before reading it; a
// crafted record claiming gigabytes is refused here first (found by fuzzing).
constexpr std::uint32_t kMaxDirectoryBytes = 16u << 20;

struct ListDeleter {
  void operator()(CdioList_t* l) const { iso9660_filelist_free(l); }
};
using ListPtr = std::unique_ptr<CdioList_t, ListDeleter>;

struct IsoDeleter {
  void operator()(iso9660_t* p) const { iso9660_close(p); }
};
struct CdioDeleter {
  void operator()(CdIo_t* p) const { cdio_destroy(p); }
};

// The two ways libiso9660 reaches sectors.
class IsoBackend {
 public:
  virtual ~IsoBackend() = default;
  virtual CdioList_t* readdir(const char* path) = 0;
  virtual long readBlocks(void* buf, lsn_t lsn, long blocks) = 0;  // bytes read
  virtual std::string volumeId() = 0;
  virtual std::uint32_t rootDirectoryBytes() = 0;
};

class ImageBackend final : public IsoBackend {
 public:
  explicit ImageBackend(iso9660_t* iso) : iso_(iso) {}
  CdioList_t* readdir(const char* path) override { return iso9660_ifs_readdir(iso_.get(), path); }
  long readBlocks(void* buf, lsn_t lsn, long blocks) override {
    return iso9660_iso_seek_read(iso_.get(), buf, lsn, blocks);
  }
  std::uint32_t rootDirectoryBytes() override {
    iso9660_pvd_t pvd;
    return iso9660_ifs_read_pvd(iso_.get(), &pvd) ? from_733(pvd.root_directory_record.size) : 0;
  }
  std::string volumeId() override {
    char* id = nullptr;
    std::string out;
    if (iso9660_ifs_get_volume_id(iso_.get(), &id) && id != nullptr) out = id;
    free(id);  // NOLINT(cppcoreguidelines-no-malloc): allocated by libiso9660
    return out;
  }

 private:
  std::unique_ptr<iso9660_t, IsoDeleter> iso_;
};

class DriveBackend final : public IsoBackend {
 public:
  explicit DriveBackend(CdIo_t* cdio) : cdio_(cdio) {}
  CdioList_t* readdir(const char* path) override { return iso9660_fs_readdir(cdio_.get(), path); }
  long readBlocks(void* buf, lsn_t lsn, long blocks) override {
    auto rc = cdio_read_data_sectors(cdio_.get(), buf, lsn, kBlock, static_cast<uint32_t>(blocks));
    return rc == DRIVER_OP_SUCCESS ? blocks * static_cast<long>(kBlock) : 0;
  }
  std::uint32_t rootDirectoryBytes() override {
    iso9660_pvd_t pvd;
    return iso9660_fs_read_pvd(cdio_.get(), &pvd) ? from_733(pvd.root_directory_record.size) : 0;
  }
  std::string volumeId() override {
    iso9660_pvd_t pvd;
    if (!iso9660_fs_read_pvd(cdio_.get(), &pvd)) return {};
    char* id = iso9660_get_volume_id(&pvd);
    std::string out = id ? id : "";
    free(id);  // NOLINT(cppcoreguidelines-no-malloc)
    return out;
  }

 private:
  std::unique_ptr<CdIo_t, CdioDeleter> cdio_;
};

class IsoMedium final : public Medium {
 public:
  IsoMedium(std::unique_ptr<IsoBackend> backend, std::string kind, MediumOptions options)
      : backend_(std::move(backend)), kind_(std::move(kind)), options_(options) {
    volumeId_ = trimRight(backend_->volumeId());
  }

  std::string kind() const override { return kind_; }
  std::string volumeId() const override { return volumeId_; }

  Result<MediumListing> list() override {
    MediumListing out;
    if (backend_->rootDirectoryBytes() > kMaxDirectoryBytes) {
      return makeError("MEDIA_UNREADABLE", "the root directory record claims an impossible size");
    }
    std::set<lsn_t> visited;
    if (!walk("/", "", 0, visited, out)) {
      return makeError("MEDIA_UNREADABLE", "the ISO 9660 root directory cannot be read");
    }
    return out;
  }

  Result<void> read(const MediumEntry& entry, const ByteSink& sink) override {
    std::vector<std::byte> buf(kChunkBlocks * kBlock);
    std::uint64_t remaining = entry.size;
    auto lsn = static_cast<lsn_t>(entry.firstSector);
    while (remaining > 0) {
      long blocks = static_cast<long>(std::min<std::uint64_t>((remaining + kBlock - 1) / kBlock, kChunkBlocks));
      long got = backend_->readBlocks(buf.data(), lsn, blocks);
      if (got != blocks * static_cast<long>(kBlock)) {
        // Retry sector by sector so one bad sector costs only this file.
        for (long i = 0; i < blocks; ++i) {
          if (!readOneWithRetries(buf.data() + i * kBlock, lsn + static_cast<lsn_t>(i))) {
            return makeError("MEDIA_READ_ERROR", "sector " + std::to_string(lsn + i) + " cannot be read after " +
                                                      std::to_string(options_.readRetries) + " retries");
          }
        }
      }
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, blocks * kBlock));
      if (!sink(std::span<const std::byte>(buf.data(), n))) return {};
      remaining -= n;
      lsn += static_cast<lsn_t>(blocks);
    }
    return {};
  }

 private:
  static std::string trimRight(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
    return s;
  }

  bool readOneWithRetries(std::byte* dst, lsn_t lsn) {
    for (int attempt = 0; attempt <= options_.readRetries; ++attempt) {
      if (backend_->readBlocks(dst, lsn, 1) == static_cast<long>(kBlock)) return true;
    }
    return false;
  }

  // isoPath: the path as libiso9660 wants it (original names); shown: normalised.
  bool walk(const std::string& isoPath, const std::string& shown, int depth, std::set<lsn_t>& visited,
            MediumListing& out) {
    ListPtr list(backend_->readdir(isoPath.c_str()));
    if (!list) return false;
    for (CdioListNode_t* node = _cdio_list_begin(list.get()); node != nullptr; node = _cdio_list_node_next(node)) {
      auto* st = static_cast<iso9660_stat_t*>(_cdio_list_node_data(node));
      std::string raw = st->filename;
      if (raw == "." || raw == ".." || raw.empty() || raw == std::string(1, '\0') || raw == "\1") continue;
      std::string name = normaliseComponent(raw);
      std::string shownPath = shown.empty() ? name : shown + "/" + name;
      if (!isSafeComponent(name)) {
        out.skipped.push_back(shown + "/" + raw + " (a name that cannot be confined)");
        continue;
      }
      if (out.files.size() >= kMaxEntries) {
        out.skipped.push_back(shownPath + " (too many entries)");
        return true;
      }
      if (st->type == iso9660_stat_s::_STAT_DIR) {
        if (st->size > kMaxDirectoryBytes) {
          out.skipped.push_back(shownPath + " (directory record claims " + std::to_string(st->size) + " bytes)");
          continue;
        }
        if (depth >= kMaxDepth || !visited.insert(st->lsn).second) {
          out.skipped.push_back(shownPath + " (directory loop or nesting too deep)");
          continue;
        }
        if (!walk(isoPath + raw + "/", shownPath, depth + 1, visited, out)) {
          out.skipped.push_back(shownPath + " (directory cannot be read)");
        }
      } else {
        out.files.push_back(MediumEntry{shownPath, st->size, static_cast<std::uint64_t>(st->lsn)});
      }
    }
    return true;
  }

  std::unique_ptr<IsoBackend> backend_;
  std::string kind_;
  std::string volumeId_;
  MediumOptions options_;
};

}  // namespace

std::unique_ptr<Medium> openIsoImage(const std::string& path, const MediumOptions& options) {
  iso9660_t* iso = iso9660_open_ext(path.c_str(), ISO_EXTENSION_ALL);
  if (iso == nullptr) return nullptr;
  return std::make_unique<IsoMedium>(std::make_unique<ImageBackend>(iso), "iso9660", options);
}

std::unique_ptr<Medium> openIsoDrive(const std::string& device, const MediumOptions& options) {
  CdIo_t* cdio = cdio_open(device.c_str(), DRIVER_DEVICE);
  if (cdio == nullptr) return nullptr;
  if (!iso9660_fs_read_superblock(cdio, ISO_EXTENSION_ALL)) {
    cdio_destroy(cdio);
    return nullptr;
  }
  return std::make_unique<IsoMedium>(std::make_unique<DriveBackend>(cdio), "drive", options);
}

}  // namespace discbridge::ingest::detail
