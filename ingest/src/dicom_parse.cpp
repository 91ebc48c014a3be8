#include "dicom_parse.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcistrmf.h>
#include <dcmtk/dcmdata/dcspchrs.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "text.h"

namespace discbridge::ingest::detail {
namespace {

constexpr Uint32 kMaxReadLength = 4096;

std::string get(DcmItem& item, const DcmTagKey& key) {
  OFString v;
  if (item.findAndGetOFStringArray(key, v).good()) return std::string(v.c_str(), v.length());
  return {};
}

// Bulk values (pixel data) are skipped rather than copied: DCMTK defers a
// value larger than the read limit when the stream offers a factory, and it
// checks then that the value fits in what is left of the file (without one it
// would allocate whatever length a hostile file claims). The factory hands
// out an empty stream, so loading a deferred value later fails cleanly.
class DeferringFactory final : public DcmInputStreamFactory {
 public:
  DcmInputStream* create() const override {
    auto* s = new DcmInputBufferStream();  // NOLINT: DCMTK takes ownership
    s->setEos();
    return s;
  }
  DcmInputStreamFactory* clone() const override { return new DeferringFactory(); }  // NOLINT
  DcmInputStreamFactoryType ident() const override { return DFT_DcmInputTempFileStreamFactory; }
};

class DeferringBufferStream final : public DcmInputBufferStream {
 public:
  DcmInputStreamFactory* newFactory() const override { return new DeferringFactory(); }  // NOLINT
};

bool startsWith(std::span<const std::byte> b, std::string_view s, std::size_t at = 0) {
  return b.size() >= at + s.size() && std::memcmp(b.data() + at, s.data(), s.size()) == 0;
}

std::uint16_t le16(const std::byte* p) {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) | (std::to_integer<unsigned>(p[1]) << 8));
}
std::uint16_t be16(const std::byte* p) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[0]) << 8) | std::to_integer<unsigned>(p[1]));
}

bool isPart10(std::span<const std::byte> b) { return startsWith(b, "DICM", 128); }

// A file without preamble may still be DICOM: a dataset (or a meta group)
// starting at byte 0. Only plausible starts are parsed, so random files are
// not mistaken for datasets.
bool plausibleBareStart(std::span<const std::byte> b) {
  if (b.size() < 12) return false;
  for (auto group : {le16(b.data()), be16(b.data())}) {
    if (group != 0x0002 && group != 0x0008) continue;
    std::uint16_t elemLe = le16(b.data() + 2);
    std::uint16_t elemBe = be16(b.data() + 2);
    if (std::min(elemLe, elemBe) > 0x0020) continue;
    auto c0 = std::to_integer<unsigned char>(b[4]);
    auto c1 = std::to_integer<unsigned char>(b[5]);
    bool explicitVr = c0 >= 'A' && c0 <= 'Z' && c1 >= 'A' && c1 <= 'Z';
    if (explicitVr) return true;
    // Implicit VR: a 32-bit little-endian length that fits the file.
    std::uint32_t len = le16(b.data() + 4) | (static_cast<std::uint32_t>(le16(b.data() + 6)) << 16);
    if (len < b.size() && len < 1024) return true;
  }
  return false;
}

bool executableHead(std::span<const std::byte> b) {
  return startsWith(b, "MZ") || startsWith(b, "\x7f" "ELF") || startsWith(b, "#!");
}

// Decodes a value from the dataset's declared character set to UTF-8; a value
// whose declared set is wrong is read as UTF-8 if valid, else as Latin-1.
class TextDecoder {
 public:
  explicit TextDecoder(std::string declared) : declared_(std::move(declared)) {
    if (!declared_.empty()) ok_ = converter_.selectCharacterSet(declared_.c_str(), "ISO_IR 192").good();
  }

  std::string decode(const std::string& raw, std::string& note) {
    // ISO 2022 code extensions switch sets with 7-bit escapes: ASCII bytes that still need decoding.
    if (isAscii(raw) && raw.find('\x1b') == std::string::npos) return raw;
    if (ok_) {
      OFString out;
      if (converter_.convertString(OFString(raw.data(), raw.size()), out, "=^").good()) {
        return std::string(out.c_str(), out.length());
      }
    }
    // Japanese ISO 2022 (IR 87 / IR 13 with escapes): the C library knows it as ISO-2022-JP.
    if (raw.find('\x1b') != std::string::npos && declared_.find("2022") != std::string::npos) {
      if (auto jp = iconvToUtf8(raw, "ISO-2022-JP-3")) return *jp;
    }
    std::string declared = declared_.empty() ? "none (ASCII)" : "'" + declared_ + "'";
    if (isValidUtf8(raw)) {
      note = "declared character set " + declared + " does not fit the text; read as UTF-8";
      return raw;
    }
    note = "declared character set " + declared + " does not fit the text; read as Latin-1";
    return latin1ToUtf8(raw);
  }

 private:
  std::string declared_;
  DcmSpecificCharacterSet converter_;
  bool ok_ = false;
};

void extract(DcmFileFormat& ff, ParsedFile& out) {
  DcmDataset& ds = *ff.getDataset();
  DcmMetaInfo& meta = *ff.getMetaInfo();
  auto& inst = out.instance;
  inst.sopClassUid = get(ds, DCM_SOPClassUID);
  inst.sopInstanceUid = get(ds, DCM_SOPInstanceUID);
  if (inst.sopClassUid.empty()) inst.sopClassUid = get(meta, DCM_MediaStorageSOPClassUID);
  if (inst.sopInstanceUid.empty()) inst.sopInstanceUid = get(meta, DCM_MediaStorageSOPInstanceUID);
  DcmXfer xfer(ds.getOriginalXfer());
  inst.transferSyntaxUid = xfer.getXferID();
  inst.instanceNumber = get(ds, DCM_InstanceNumber);
  OFString metaTs;
  inst.metaConsistent = inst.hasFileMeta && meta.findAndGetOFString(DCM_TransferSyntaxUID, metaTs).good() &&
                        metaTs == inst.transferSyntaxUid.c_str() &&
                        get(meta, DCM_MediaStorageSOPInstanceUID) == inst.sopInstanceUid &&
                        get(meta, DCM_MediaStorageSOPClassUID) == inst.sopClassUid;
  inst.supportedSopClass = dcmFindNameOfUID(inst.sopClassUid.c_str()) != nullptr &&
                           (dcmIsaStorageSOPClassUID(inst.sopClassUid.c_str(), ESSC_All) ||
                            inst.sopClassUid == UID_MediaStorageDirectoryStorage);

  TextDecoder text(get(ds, DCM_SpecificCharacterSet));
  std::string note;
  out.patientId = text.decode(get(ds, DCM_PatientID), note);
  out.issuer = text.decode(get(ds, DCM_IssuerOfPatientID), note);
  out.patientName = text.decode(get(ds, DCM_PatientName), note);
  out.birthDate = get(ds, DCM_PatientBirthDate);
  out.sex = get(ds, DCM_PatientSex);
  out.studyUid = get(ds, DCM_StudyInstanceUID);
  out.studyDate = get(ds, DCM_StudyDate);
  out.studyTime = get(ds, DCM_StudyTime);
  out.studyId = text.decode(get(ds, DCM_StudyID), note);
  out.accession = text.decode(get(ds, DCM_AccessionNumber), note);
  out.studyDescription = text.decode(get(ds, DCM_StudyDescription), note);
  out.seriesUid = get(ds, DCM_SeriesInstanceUID);
  out.modality = get(ds, DCM_Modality);
  out.seriesDescription = text.decode(get(ds, DCM_SeriesDescription), note);
  out.seriesNumber = get(ds, DCM_SeriesNumber);
  out.charsetNote = note;
}

// Reads meta group then dataset from a stream, as DcmFileFormat::read does,
// remembering where the dataset starts.
OFCondition readStream(DcmInputStream& in, DcmFileFormat& ff, std::uint64_t& datasetOffset, bool& hasMeta) {
  DcmMetaInfo* meta = ff.getMetaInfo();
  meta->transferInit();
  OFCondition cond = meta->read(in, EXS_Unknown, EGL_noChange, kMaxReadLength);
  meta->transferEnd();
  if (cond.bad()) return cond;
  datasetOffset = static_cast<std::uint64_t>(in.tell());
  hasMeta = meta->card() > 0;
  E_TransferSyntax xfer = EXS_Unknown;
  OFString ts;
  if (hasMeta && meta->findAndGetOFString(DCM_TransferSyntaxUID, ts).good()) {
    DcmXfer x(ts.c_str());
    if (x.getXfer() != EXS_Unknown) xfer = x.getXfer();
  }
  DcmDataset* ds = ff.getDataset();
  ds->transferInit();
  cond = ds->read(in, xfer, EGL_noChange, kMaxReadLength);
  ds->transferEnd();
  if (cond.good() && ds->transferState() != ERW_ready && !in.eos()) cond = EC_StreamNotifyClient;
  return cond;
}

ParsedFile finish(OFCondition cond, std::shared_ptr<DcmFileFormat> ff, std::span<const std::byte> head,
                  std::uint64_t datasetOffset, bool hasMeta, bool nameSaysDicomdir) {
  ParsedFile out;
  bool part10 = isPart10(head);
  out.instance.hasPreamble = part10;
  out.executablePreamble = part10 && executableHead(head);
  out.instance.hasFileMeta = hasMeta;
  out.instance.datasetOffset = datasetOffset;
  if (cond.bad()) {
    out.kind = FileKind::Corrupt;
    out.what = std::string("DICOM parsing stopped: ") + cond.text();
    // Still say who it belonged to when the header was readable.
    extract(*ff, out);
    return out;
  }
  extract(*ff, out);
  if (out.instance.sopClassUid == UID_MediaStorageDirectoryStorage ||
      (nameSaysDicomdir && ff->getDataset()->tagExists(DCM_DirectoryRecordSequence))) {
    out.kind = FileKind::DicomDir;
    out.dicomdir = std::move(ff);
    return out;
  }
  if (out.instance.sopInstanceUid.empty() || out.instance.sopClassUid.empty()) {
    out.kind = part10 ? FileKind::Corrupt : FileKind::NotDicom;
    out.what = part10 ? "a Part 10 file without SOP Class or SOP Instance UID" : describeContent(head);
    return out;
  }
  out.kind = FileKind::Instance;
  return out;
}

}  // namespace

ParsedFile parseBufferUnguarded(std::span<const std::byte> bytes, bool nameSaysDicomdir);
ParsedFile parseLocalFileUnguarded(const std::string& localPath, std::uint64_t size, bool nameSaysDicomdir);

std::string describeContent(std::span<const std::byte> head) {
  struct Magic {
    std::string_view bytes;
    const char* what;
  };
  static const std::array<Magic, 12> magics{{
      {"%PDF", "PDF document"},
      {"\xFF\xD8\xFF", "JPEG image"},
      {"\x89PNG", "PNG image"},
      {"GIF8", "GIF image"},
      {"BM", "BMP image"},
      {"PK\x03\x04", "ZIP archive (not opened; it may hold DICOM files)"},
      {"MZ", "Windows executable (never run)"},
      {"\x7f" "ELF", "ELF executable (never run)"},
      {"<!DOCTYPE", "HTML page"},
      {"<html", "HTML page"},
      {"<?xml", "XML document"},
      {"SQLite format 3", "SQLite database (a viewer's index)"},
  }};
  for (const auto& m : magics) {
    if (startsWith(head, m.bytes)) return m.what;
  }
  if (startsWith(head, "CD001", 0x8001)) return "ISO image (not opened; it may hold DICOM files)";
  if (head.empty()) return "empty file";
  bool text = std::all_of(head.begin(), head.end(), [](std::byte b) {
    auto c = std::to_integer<unsigned char>(b);
    return c == '\n' || c == '\r' || c == '\t' || c >= 0x20;
  });
  return text ? "text file" : "unrecognised binary file";
}

namespace {

// DCMTK can throw (std::out_of_range from string handling) on crafted input;
// that costs the file, never the scan.
template <class F>
ParsedFile guarded(F&& parse) {
  try {
    return parse();
  } catch (const std::exception& e) {
    ParsedFile out;
    out.kind = FileKind::Corrupt;
    out.what = std::string("the DICOM parser failed on this file (") + e.what() + ")";
    return out;
  }
}

}  // namespace

ParsedFile parseBuffer(std::span<const std::byte> bytes, bool nameSaysDicomdir) {
  return guarded([&] { return parseBufferUnguarded(bytes, nameSaysDicomdir); });
}

ParsedFile parseLocalFile(const std::string& localPath, std::uint64_t size, bool nameSaysDicomdir) {
  return guarded([&] { return parseLocalFileUnguarded(localPath, size, nameSaysDicomdir); });
}

ParsedFile parseBufferUnguarded(std::span<const std::byte> bytes, bool nameSaysDicomdir) {
  if (!isPart10(bytes) && !plausibleBareStart(bytes)) {
    ParsedFile out;
    out.kind = FileKind::NotDicom;
    out.what = describeContent(bytes.first(std::min<std::size_t>(bytes.size(), 0x8010)));
    return out;
  }
  auto ff = std::make_shared<DcmFileFormat>();
  DeferringBufferStream in;
  in.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  in.setEos();
  std::uint64_t datasetOffset = 0;
  bool hasMeta = false;
  OFCondition cond = readStream(in, *ff, datasetOffset, hasMeta);
  in.releaseBuffer();
  return finish(cond, std::move(ff), bytes.first(std::min<std::size_t>(bytes.size(), 132)), datasetOffset, hasMeta,
                nameSaysDicomdir);
}

ParsedFile parseLocalFileUnguarded(const std::string& localPath, std::uint64_t size, bool nameSaysDicomdir) {
  std::array<std::byte, 0x8010> head{};
  std::size_t headLen = 0;
  if (FILE* f = std::fopen(localPath.c_str(), "rb")) {
    headLen = std::fread(head.data(), 1, head.size(), f);
    std::fclose(f);
  }
  std::span<const std::byte> h(head.data(), std::min<std::size_t>(headLen, size));
  if (!isPart10(h) && !plausibleBareStart(h)) {
    ParsedFile out;
    out.kind = FileKind::NotDicom;
    out.what = describeContent(h);
    return out;
  }
  auto ff = std::make_shared<DcmFileFormat>();
  DcmInputFileStream in(localPath.c_str());
  std::uint64_t datasetOffset = 0;
  bool hasMeta = false;
  OFCondition cond = in.status().good() ? readStream(in, *ff, datasetOffset, hasMeta) : in.status();
  return finish(cond, std::move(ff), h.first(std::min<std::size_t>(h.size(), 132)), datasetOffset, hasMeta,
                nameSaysDicomdir);
}

}  // namespace discbridge::ingest::detail
