#include "discbridge/ingest/part10.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

namespace discbridge::ingest {
namespace {

// A fresh meta header (preamble of zeros, "DICM", group 0002) for a dataset.
Result<std::vector<std::byte>> metaHeader(const InstanceRef& inst) {
  DcmFileFormat ff;
  DcmDataset* ds = ff.getDataset();
  ds->putAndInsertString(DCM_SOPClassUID, inst.sopClassUid.c_str());
  ds->putAndInsertString(DCM_SOPInstanceUID, inst.sopInstanceUid.c_str());
  E_TransferSyntax xfer = DcmXfer(inst.transferSyntaxUid.c_str()).getXfer();
  if (xfer == EXS_Unknown) return makeError("UNKNOWN_TRANSFER_SYNTAX", "no meta header for " + inst.transferSyntaxUid);
  OFCondition cond = ff.validateMetaInfo(xfer);
  if (cond.bad()) return makeError("META_HEADER", cond.text());
  DcmMetaInfo* meta = ff.getMetaInfo();
  std::vector<std::byte> buf(64 * 1024);
  DcmOutputBufferStream out(buf.data(), static_cast<offile_off_t>(buf.size()));
  meta->transferInit();
  cond = meta->write(out, EXS_LittleEndianExplicit, EET_ExplicitLength, nullptr);
  meta->transferEnd();
  if (cond.bad()) return makeError("META_HEADER", cond.text());
  void* data = nullptr;
  offile_off_t len = 0;
  out.flushBuffer(data, len);
  buf.resize(static_cast<std::size_t>(len));
  return buf;
}

}  // namespace

Result<std::uint64_t> copyAsPart10(Medium& medium, const InstanceRef& inst, const std::string& dest, bool durable,
                                   const ByteObserver& observe) {
  const bool keepMeta = inst.hasFileMeta && inst.hasPreamble && inst.metaConsistent;
  std::vector<std::byte> header;
  if (!keepMeta) {
    auto h = metaHeader(inst);
    if (!h) return h.error();
    header = std::move(*h);
  }
  std::string tmp = dest + ".part";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return makeError("WRITE_FAILED", "cannot create " + tmp);
  std::uint64_t written = 0;
  bool ioOk = true;
  auto put = [&](const void* p, std::size_t n) {
    if (n > 0 && std::fwrite(p, 1, n, f) != n) ioOk = false;
    if (n > 0 && observe) observe(std::span<const std::byte>(static_cast<const std::byte*>(p), n));
    written += n;
  };
  put(header.data(), header.size());
  // Which bytes of the source to keep: all (preamble zeroed) or the dataset only.
  const std::uint64_t skip = keepMeta ? 0 : inst.datasetOffset;
  std::uint64_t pos = 0;
  static const std::array<std::byte, 128> zeros{};
  auto r = medium.read(MediumEntry{inst.path, inst.size, inst.firstSector}, [&](std::span<const std::byte> chunk) {
    std::uint64_t start = pos;
    pos += chunk.size();
    if (pos <= skip) return ioOk;
    std::size_t from = start < skip ? static_cast<std::size_t>(skip - start) : 0;
    auto rest = chunk.subspan(from);
    std::uint64_t at = start + from;
    if (keepMeta && at < 128) {
      std::size_t z = std::min<std::size_t>(rest.size(), static_cast<std::size_t>(128 - at));
      put(zeros.data(), z);
      rest = rest.subspan(z);
    }
    put(rest.data(), rest.size());
    return ioOk;
  });
  bool flushed = std::fflush(f) == 0 && (!durable || fsync(fileno(f)) == 0);
  std::fclose(f);
  if (!r || !ioOk || !flushed) {
    std::remove(tmp.c_str());
    return r ? makeError("WRITE_FAILED", "cannot write " + dest) : r.error();
  }
  std::error_code ec;
  std::filesystem::rename(tmp, dest, ec);
  if (ec) return makeError("WRITE_FAILED", "cannot rename to " + dest + ": " + ec.message());
  return written;
}

}  // namespace discbridge::ingest
