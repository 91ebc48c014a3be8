#include "discbridge/uplink/spool.h"

#include <openssl/evp.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <vector>

#include "discbridge/ingest/part10.h"

namespace fs = std::filesystem;

namespace discbridge::uplink {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// SOP Instance UIDs are digits and dots; anything else becomes '_' so a
// hostile UID can never name a path.
std::string fileNameFor(const std::string& uid) {
  std::string out;
  for (char c : uid.substr(0, 64)) out.push_back((c >= '0' && c <= '9') || c == '.' ? c : '_');
  if (out.empty() || out == "." || out == "..") out = "instance";
  return out;
}

std::string toHex(const unsigned char* md, unsigned len) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

}  // namespace

std::string sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return toHex(md, len);
}

Result<std::string> Spool::sha256File(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return makeError("SPOOL_MISSING", "spool file " + path + " cannot be opened");
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<unsigned char> buf(1 << 20);
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) EVP_DigestUpdate(ctx.get(), buf.data(), n);
  bool err = std::ferror(f) != 0;
  std::fclose(f);
  if (err) return makeError("SPOOL_READ", "spool file " + path + " cannot be read");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return toHex(md, len);
}

Result<void> Spool::sync(const std::vector<std::string>& paths) {
  std::set<std::string> dirs;
  for (const auto& p : paths) {
    int fd = ::open(p.c_str(), O_RDONLY);
    if (fd < 0 || ::fdatasync(fd) != 0) {
      if (fd >= 0) ::close(fd);
      return makeError("SPOOL_WRITE", "spool file " + p + " cannot be flushed to disk");
    }
    ::close(fd);
    dirs.insert(fs::path(p).parent_path().string());
  }
  for (const auto& d : dirs) {  // the renames that made the files visible
    int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
  }
  return {};
}

Result<SpooledInstance> Spool::add(ingest::Medium& medium, const ingest::InstanceRef& instance, std::int64_t job,
                                   bool durable) {
  return addTo(medium, instance, std::to_string(job), durable);
}

Result<SpooledInstance> Spool::addTo(ingest::Medium& medium, const ingest::InstanceRef& instance,
                                     const std::string& folder, bool durable) {
  std::error_code ec;
  fs::path dir = fs::path(root_) / folder;
  fs::create_directories(dir, ec);
  if (ec) return makeError("SPOOL_WRITE", "cannot create " + dir.string() + ": " + ec.message());
  fs::path dest = dir / (fileNameFor(instance.sopInstanceUid) + ".dcm");
  // The digest of exactly the bytes written, computed on the way.
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  auto copied = ingest::copyAsPart10(medium, instance, dest.string(), durable,
                                     [&](std::span<const std::byte> b) { EVP_DigestUpdate(ctx.get(), b.data(), b.size()); });
  if (!copied) return copied.error();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return SpooledInstance{dest.string(), toHex(md, len), *copied};
}

Result<void> Spool::verify(const std::string& path, const std::string& sha256) {
  auto digest = sha256File(path);
  if (!digest) return digest.error();
  if (*digest != sha256) return makeError("SPOOL_CORRUPT", "spool file " + path + " no longer matches its SHA-256");
  return {};
}

void Spool::remove(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

void Spool::removeJob(std::int64_t job) { removeFolder(std::to_string(job)); }

void Spool::removeFolder(const std::string& folder) {
  if (folder.empty() || folder.find('/') != std::string::npos || folder == "." || folder == "..") return;
  std::error_code ec;
  fs::remove_all(fs::path(root_) / folder, ec);
}

}  // namespace discbridge::uplink
