#include "discbridge/ingest/thumbnail.h"

#include "discbridge/ingest/codecs.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmimage/diregist.h>  // colour images
#include <dcmtk/dcmimgle/dcmimage.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

namespace discbridge::ingest {
namespace {

// Beyond these a "thumbnail" would mean allocating what a hostile header asks.
constexpr unsigned long kMaxEdge = 16384;
constexpr unsigned long kMaxPixels = 64ul << 20;

}  // namespace

Result<Thumbnail> renderThumbnail(const std::string& file, unsigned maxEdge) {
  registerDecoders();
  if (maxEdge == 0) maxEdge = 1;
  try {
    // The header first, without bulk data: dimensions are checked before
    // DCMTK is asked to allocate anything for them.
    DcmFileFormat header;
    if (header.loadFile(file.c_str(), EXS_Unknown, EGL_noChange, 4096).bad()) {
      return makeError("THUMBNAIL", "not a readable DICOM file");
    }
    DcmDataset* ds = header.getDataset();
    Uint16 rows = 0, cols = 0;
    if (ds->findAndGetUint16(DCM_Rows, rows).bad() || ds->findAndGetUint16(DCM_Columns, cols).bad() || rows == 0 ||
        cols == 0 || !ds->tagExists(DCM_PixelData)) {
      return makeError("THUMBNAIL", "no image in this instance");
    }
    if (rows > kMaxEdge || cols > kMaxEdge || static_cast<unsigned long>(rows) * cols > kMaxPixels) {
      return makeError("THUMBNAIL", "image dimensions out of range");
    }
    DicomImage image(file.c_str(), CIF_UsePartialAccessToPixelData, 0, 1);
    if (image.getStatus() != EIS_Normal) {
      return makeError("THUMBNAIL", std::string("cannot render: ") + DicomImage::getString(image.getStatus()));
    }
    if (image.isMonochrome()) {
      if (image.getWindowCount() > 0) {
        image.setWindow(0);
      } else {
        image.setMinMaxWindow();
      }
    }
    const double w = image.getWidth(), h = image.getHeight();
    const double scale = std::min(1.0, static_cast<double>(maxEdge) / std::max(w, h));
    const auto tw = std::max(1ul, static_cast<unsigned long>(w * scale));
    const auto th = std::max(1ul, static_cast<unsigned long>(h * scale));
    std::unique_ptr<DicomImage> scaled(image.createScaledImage(tw, th, 1, 0));
    if (!scaled || scaled->getStatus() != EIS_Normal) return makeError("THUMBNAIL", "cannot scale the image");
    const void* data = scaled->getOutputData(8);
    const unsigned long size = scaled->getOutputDataSize(8);
    Thumbnail t;
    t.width = static_cast<unsigned>(scaled->getWidth());
    t.height = static_cast<unsigned>(scaled->getHeight());
    t.channels = scaled->isMonochrome() ? 1 : 3;
    if (data == nullptr || size != static_cast<unsigned long>(t.width) * t.height * t.channels) {
      return makeError("THUMBNAIL", "no output from the renderer");
    }
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    t.pixels.assign(bytes, bytes + size);
    return t;
  } catch (const std::exception& e) {
    return makeError("THUMBNAIL", std::string("cannot render: ") + e.what());
  }
}

Result<void> writeNetpbm(const Thumbnail& t, const std::string& path) {
  if (t.pixels.size() != static_cast<std::size_t>(t.width) * t.height * t.channels) {
    return makeError("THUMBNAIL", "inconsistent thumbnail");
  }
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return makeError("THUMBNAIL", "cannot write " + path);
  std::fprintf(f, "%s\n%u %u\n255\n", t.channels == 1 ? "P5" : "P6", t.width, t.height);
  bool ok = std::fwrite(t.pixels.data(), 1, t.pixels.size(), f) == t.pixels.size();
  ok = std::fclose(f) == 0 && ok;
  std::error_code ec;
  if (ok) std::filesystem::rename(tmp, path, ec);
  if (!ok || ec) {
    std::filesystem::remove(tmp, ec);
    return makeError("THUMBNAIL", "cannot write " + path);
  }
  return {};
}

}  // namespace discbridge::ingest
