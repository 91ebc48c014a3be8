#include "discbridge/ingest/medium.h"

#include <cdio/cdio.h>
#include <cdio/iso9660.h>
#include <cdio/udf.h>

#include <filesystem>
#include <system_error>

#include "media_impl.h"

namespace discbridge::ingest {
namespace {

struct DeviceListDeleter {
  void operator()(char** list) const { cdio_free_device_list(list); }
};

std::string firstDriveWithMedia() {
  for (const auto& d : listDrives()) {
    if (d.hasMedia) return d.device;
  }
  return {};
}

// ISO 9660 or UDF, whichever describes more of the medium: a UDF bridge disc
// has both, and some burners leave the ISO 9660 side incomplete.
Result<std::unique_ptr<Medium>> openFilesystem(const std::string& path, bool isDrive, const MediumOptions& options) {
  std::unique_ptr<Medium> iso = isDrive ? detail::openIsoDrive(path, options) : detail::openIsoImage(path, options);
  std::unique_ptr<Medium> udf = detail::openUdf(path, isDrive ? "drive" : "udf", options);
  if (iso && udf) {
    auto isoList = iso->list();
    auto udfList = udf->list();
    if (udfList.ok() && (!isoList.ok() || udfList->files.size() > isoList->files.size())) return udf;
    return iso;
  }
  if (iso) return iso;
  if (udf) return udf;
  return makeError("MEDIA_UNREADABLE", path + ": neither an ISO 9660 nor a UDF file system can be read");
}

}  // namespace

Result<std::unique_ptr<Medium>> openMedium(const std::string& source, const MediumOptions& options) {
  if (source == "drive:") {
    std::string dev = firstDriveWithMedia();
    if (dev.empty()) return makeError("NO_MEDIA", "no optical drive holds a disc", true);
    return openFilesystem(dev, true, options);
  }
  std::error_code ec;
  auto status = std::filesystem::status(source, ec);
  if (ec) return makeError("SOURCE_NOT_FOUND", source + ": " + ec.message());
  if (std::filesystem::is_directory(status)) {
    if (auto dir = detail::openDirectory(source)) return dir;
    return makeError("MEDIA_UNREADABLE", source + ": the directory cannot be opened");
  }
  if (std::filesystem::is_block_file(status) || std::filesystem::is_character_file(status)) {
    return openFilesystem(source, true, options);
  }
  if (std::filesystem::is_regular_file(status)) return openFilesystem(source, false, options);
  return makeError("MEDIA_UNREADABLE", source + ": not an image file, a drive or a directory");
}

Result<std::vector<std::byte>> readAll(Medium& medium, const MediumEntry& entry, std::uint64_t maxBytes) {
  if (entry.size > maxBytes) {
    return makeError("TOO_LARGE", "the file is " + std::to_string(entry.size) + " bytes, more than the " +
                                      std::to_string(maxBytes) + " allowed here");
  }
  std::vector<std::byte> out;
  out.reserve(entry.size);
  auto r = medium.read(entry, [&](std::span<const std::byte> chunk) {
    out.insert(out.end(), chunk.begin(), chunk.end());
    return out.size() <= maxBytes;
  });
  if (!r) return r.error();
  return out;
}

std::vector<DriveInfo> listDrives() {
  std::vector<DriveInfo> out;
  std::unique_ptr<char*, DeviceListDeleter> devices(cdio_get_devices(DRIVER_DEVICE));
  if (!devices) return out;
  for (char** d = devices.get(); *d != nullptr; ++d) {
    DriveInfo info;
    info.device = *d;
    if (CdIo_t* cdio = cdio_open(*d, DRIVER_DEVICE)) {
      discmode_t mode = cdio_get_discmode(cdio);
      info.hasMedia = mode != CDIO_DISC_MODE_NO_INFO && mode != CDIO_DISC_MODE_ERROR;
      if (info.hasMedia) info.mediaType = discmode2str[mode];
      cdio_destroy(cdio);
    }
    out.push_back(std::move(info));
  }
  return out;
}

Result<void> ejectDrive(const std::string& device) {
  driver_return_code_t rc = cdio_eject_media_drive(device.empty() ? nullptr : device.c_str());
  if (rc != DRIVER_OP_SUCCESS) {
    return makeError("EJECT_FAILED", "the drive did not eject: " + std::string(cdio_driver_errmsg(rc)), true);
  }
  return {};
}

}  // namespace discbridge::ingest
