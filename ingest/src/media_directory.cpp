// A plain directory: mounted media or a USB stick. Symbolic links are never
// followed, so nothing outside the directory is read.
#include <algorithm>
#include <fstream>
#include <filesystem>
#include <system_error>
#include <vector>

#include "media_impl.h"
#include "discbridge/ingest/names.h"

namespace fs = std::filesystem;

namespace discbridge::ingest::detail {
namespace {

constexpr std::size_t kChunk = 256 * 1024;
constexpr int kMaxDepth = 32;

class DirectoryMedium final : public Medium {
 public:
  explicit DirectoryMedium(fs::path root) : root_(std::move(root)) {}

  std::string kind() const override { return "directory"; }
  std::string volumeId() const override { return root_.filename().string(); }

  Result<MediumListing> list() override {
    MediumListing out;
    std::error_code ec;
    fs::recursive_directory_iterator it(root_, fs::directory_options::skip_permission_denied, ec);
    if (ec) return makeError("MEDIA_UNREADABLE", "the directory cannot be listed: " + ec.message());
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      const auto& de = *it;
      std::string rel = fs::relative(de.path(), root_, ec).generic_string();
      if (de.is_symlink(ec)) {
        out.skipped.push_back(rel + " (symbolic link, not followed)");
        continue;
      }
      if (de.is_directory(ec)) {
        if (it.depth() >= kMaxDepth) {
          it.disable_recursion_pending();
          out.skipped.push_back(rel + " (nesting too deep)");
        }
        continue;
      }
      if (!de.is_regular_file(ec)) continue;
      out.files.push_back(MediumEntry{rel, static_cast<std::uint64_t>(de.file_size(ec)), 0});
    }
    if (ec) return makeError("MEDIA_UNREADABLE", "listing the directory failed: " + ec.message());
    std::sort(out.files.begin(), out.files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
    return out;
  }

  Result<void> read(const MediumEntry& entry, const ByteSink& sink) override {
    // Paths come from list(); still, refuse anything that is not below the root.
    for (const auto& comp : fs::path(entry.path)) {
      if (!isSafeComponent(comp.string())) return makeError("PATH_OUTSIDE_MEDIUM", "refused path " + entry.path);
    }
    std::ifstream in(root_ / entry.path, std::ios::binary);
    if (!in) return makeError("MEDIA_READ_ERROR", "the file cannot be opened");
    std::vector<std::byte> buf(kChunk);
    std::uint64_t remaining = entry.size;
    while (remaining > 0) {
      auto want = static_cast<std::streamsize>(std::min<std::uint64_t>(remaining, kChunk));
      in.read(reinterpret_cast<char*>(buf.data()), want);
      auto got = in.gcount();
      if (got <= 0) return makeError("MEDIA_READ_ERROR", "the file ended early or cannot be read");
      if (!sink(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(got)))) return {};
      remaining -= static_cast<std::uint64_t>(got);
    }
    return {};
  }

 private:
  fs::path root_;
};

}  // namespace

std::unique_ptr<Medium> openDirectory(const std::string& path) {
  std::error_code ec;
  fs::path root = fs::canonical(path, ec);
  if (ec || !fs::is_directory(root, ec)) return nullptr;
  return std::make_unique<DirectoryMedium>(root);
}

}  // namespace discbridge::ingest::detail
