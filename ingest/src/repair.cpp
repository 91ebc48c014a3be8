#include "discbridge/ingest/repair.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdirrec.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvrul.h>

#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "discbridge/ingest/part10.h"
#include "text.h"

namespace fs = std::filesystem;

namespace discbridge::ingest {
namespace {

std::string fileId(char prefix, std::size_t n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%c%07zu", prefix, n);
  return buf;
}

const char* recordTypeFor(const std::string& sopClass) {
  struct Entry {
    const char* uid;
    const char* type;
  };
  static const Entry table[] = {
      {UID_RTDoseStorage, "RT DOSE"},
      {UID_RTStructureSetStorage, "RT STRUCTURE SET"},
      {UID_RTPlanStorage, "RT PLAN"},
      {UID_GrayscaleSoftcopyPresentationStateStorage, "PRESENTATION"},
      {UID_KeyObjectSelectionDocumentStorage, "KEY OBJECT DOC"},
      {UID_EncapsulatedPDFStorage, "ENCAP DOC"},
      {UID_BasicTextSRStorage, "SR DOCUMENT"},
      {UID_EnhancedSRStorage, "SR DOCUMENT"},
      {UID_ComprehensiveSRStorage, "SR DOCUMENT"},
      {UID_TwelveLeadECGWaveformStorage, "WAVEFORM"},
  };
  for (const auto& e : table) {
    if (sopClass == e.uid) return e.type;
  }
  if (dcmIsImageStorageSOPClassUID(sopClass.c_str())) return "IMAGE";
  return "PRIVATE";
}

// Offsets have DCMTK's internal VR "up", which putAndInsertUint32() refuses;
// they are written as plain UL.
void putOffset(DcmItem& item, const DcmTagKey& key, Uint32 value) {
  auto* e = new DcmUnsignedLong(DcmTag(key, EVR_UL));  // NOLINT: owned by item
  e->putUint32(value);
  item.insert(e, true);
}

void put(DcmItem& item, const DcmTagKey& key, const std::string& value) {
  item.putAndInsertString(key, value.c_str());
}

DcmItem* newRecord(const char* type, const std::string& charsetProbe) {
  auto* item = new DcmItem(DcmTag(DCM_Item));  // NOLINT: ownership passes to the sequence
  putOffset(*item, DCM_OffsetOfTheNextDirectoryRecord, 0);
  item->putAndInsertUint16(DCM_RecordInUseFlag, 0xFFFF);
  putOffset(*item, DCM_OffsetOfReferencedLowerLevelDirectoryEntity, 0);
  item->putAndInsertString(DCM_DirectoryRecordType, type);
  if (!detail::isAscii(charsetProbe)) item->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
  return item;
}

std::string fileSetIdFrom(const std::string& volumeId) {
  std::string out;
  for (char c : volumeId) {
    auto u = static_cast<unsigned char>(std::toupper(static_cast<unsigned char>(c)));
    if (std::isalnum(u) || u == '_' || u == ' ') out.push_back(static_cast<char>(u));
    if (out.size() == 16) break;
  }
  return out.empty() ? "DISCBRIDGE" : out;
}

// Builds the DICOMDIR from the report's tree. Records are appended in
// depth-first order and linked after a first write tells their offsets, so the
// cost grows linearly with the number of instances.
class DicomdirWriter {
 public:
  DicomdirWriter() : seq_(new DcmSequenceOfItems(DCM_DirectoryRecordSequence)) {}

  struct Node {
    DcmItem* item;
    std::vector<std::size_t> children;
  };

  std::size_t add(DcmItem* item, long parent) {
    seq_->insert(item);
    nodes_.push_back(Node{item, {}});
    std::size_t idx = nodes_.size() - 1;
    if (parent < 0) {
      roots_.push_back(idx);
    } else {
      nodes_[static_cast<std::size_t>(parent)].children.push_back(idx);
    }
    return idx;
  }

  Result<void> write(const std::string& path, const std::string& fileSetId) {
    DcmFileFormat ff;
    DcmDataset* ds = ff.getDataset();
    put(*ds, DCM_FileSetID, fileSetId);
    putOffset(*ds, DCM_OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity, 0);
    putOffset(*ds, DCM_OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity, 0);
    ds->putAndInsertUint16(DCM_FileSetConsistencyFlag, 0);
    ds->insert(seq_.release());
    DcmMetaInfo* meta = ff.getMetaInfo();
    char uid[70];
    put(*meta, DCM_MediaStorageSOPClassUID, UID_MediaStorageDirectoryStorage);
    put(*meta, DCM_MediaStorageSOPInstanceUID, dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
    std::string tmp = path + ".part";
    auto save = [&]() -> Result<void> {
      OFCondition c = ff.saveFile(tmp.c_str(), EXS_LittleEndianExplicit, EET_ExplicitLength, EGL_recalcGL,
                                  EPD_noChange, 0, 0, EWM_updateMeta);
      if (c.bad()) return makeError("WRITE_FAILED", std::string("cannot write the DICOMDIR: ") + c.text());
      return {};
    };
    if (auto r = save(); !r) return r;
    // Read back to learn where each record starts.
    std::vector<Uint32> offsets;
    {
      DcmFileFormat back;
      if (back.loadFile(tmp.c_str()).bad()) return makeError("WRITE_FAILED", "the DICOMDIR just written cannot be read");
      DcmSequenceOfItems* s = nullptr;
      back.getDataset()->findAndGetSequence(DCM_DirectoryRecordSequence, s);
      for (DcmObject* o = s ? s->nextInContainer(nullptr) : nullptr; o != nullptr; o = s->nextInContainer(o)) {
        auto* rec = dynamic_cast<DcmDirectoryRecord*>(o);
        offsets.push_back(rec ? rec->getFileOffset() : 0);
      }
    }
    if (offsets.size() != nodes_.size()) return makeError("WRITE_FAILED", "the DICOMDIR read back differs");
    auto link = [&](const std::vector<std::size_t>& chain) {
      for (std::size_t k = 0; k + 1 < chain.size(); ++k) {
        putOffset(*nodes_[chain[k]].item, DCM_OffsetOfTheNextDirectoryRecord, offsets[chain[k + 1]]);
      }
    };
    link(roots_);
    for (auto& n : nodes_) {
      if (!n.children.empty()) {
        putOffset(*n.item, DCM_OffsetOfReferencedLowerLevelDirectoryEntity, offsets[n.children.front()]);
        link(n.children);
      }
    }
    if (!roots_.empty()) {
      putOffset(*ds, DCM_OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity, offsets[roots_.front()]);
      putOffset(*ds, DCM_OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity, offsets[roots_.back()]);
    }
    if (auto r = save(); !r) return r;
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) return makeError("WRITE_FAILED", "cannot rename the DICOMDIR: " + ec.message());
    return {};
  }

 private:
  std::unique_ptr<DcmSequenceOfItems> seq_;
  std::vector<Node> nodes_;
  std::vector<std::size_t> roots_;
};

}  // namespace

Result<RepairSummary> repairMedium(Medium& medium, const FileSetReport& report, const std::string& outDir) {
  std::error_code ec;
  fs::path out(outDir);
  if (fs::exists(out, ec) && !fs::is_empty(out, ec)) {
    return makeError("OUTPUT_NOT_EMPTY", outDir + " is not empty; repair writes into a new or empty directory");
  }
  fs::create_directories(out, ec);
  if (ec) return makeError("WRITE_FAILED", "cannot create " + outDir + ": " + ec.message());

  RepairSummary summary;
  DicomdirWriter dir;
  std::size_t pNo = 0;
  for (const auto& patient : report.patients) {
    std::string pDir = fileId('P', ++pNo);
    DcmItem* pr = newRecord("PATIENT", patient.name + patient.patientId + patient.issuer);
    put(*pr, DCM_PatientID, patient.patientId);
    put(*pr, DCM_IssuerOfPatientID, patient.issuer);
    put(*pr, DCM_PatientName, patient.name);
    put(*pr, DCM_PatientBirthDate, patient.birthDate);
    put(*pr, DCM_PatientSex, patient.sex);
    auto pIdx = static_cast<long>(dir.add(pr, -1));
    std::size_t stNo = 0;
    for (const auto& study : patient.studies) {
      std::string stDir = fileId('S', ++stNo);
      DcmItem* sr = newRecord("STUDY", study.description + study.accessionNumber + study.studyId);
      put(*sr, DCM_StudyDate, study.studyDate);
      put(*sr, DCM_StudyTime, study.studyTime);
      put(*sr, DCM_StudyDescription, study.description);
      put(*sr, DCM_StudyInstanceUID, study.studyInstanceUid);
      // Study ID is Type 1 in the directory: the accession or a sequence number stands in.
      put(*sr, DCM_StudyID,
          !study.studyId.empty() ? study.studyId
                                 : (!study.accessionNumber.empty() ? study.accessionNumber : std::to_string(stNo)));
      put(*sr, DCM_AccessionNumber, study.accessionNumber);
      auto sIdx = static_cast<long>(dir.add(sr, pIdx));
      std::size_t seNo = 0;
      for (const auto& series : study.series) {
        std::string seDir = fileId('E', ++seNo);
        DcmItem* er = newRecord("SERIES", series.description);
        put(*er, DCM_Modality, series.modality.empty() ? "OT" : series.modality);
        put(*er, DCM_SeriesInstanceUID, series.seriesInstanceUid);
        put(*er, DCM_SeriesNumber, series.seriesNumber.empty() ? std::to_string(seNo) : series.seriesNumber);
        put(*er, DCM_SeriesDescription, series.description);
        auto eIdx = static_cast<long>(dir.add(er, sIdx));
        fs::path folder = out / "DICOM" / pDir / stDir / seDir;
        fs::create_directories(folder, ec);
        if (ec) return makeError("WRITE_FAILED", "cannot create " + folder.string() + ": " + ec.message());
        std::size_t iNo = 0;
        for (const auto& inst : series.instances) {
          std::string name = fileId('I', ++iNo);
          auto copied = copyAsPart10(medium, inst, (folder / name).string(), false);
          if (!copied) return Error{copied.error().code, inst.path + ": " + copied.error().message, false};
          summary.bytesWritten += *copied;
          ++summary.instancesWritten;
          DcmItem* ir = newRecord(recordTypeFor(inst.sopClassUid), "");
          std::string refId = "DICOM\\" + pDir + "\\" + stDir + "\\" + seDir + "\\" + name;
          put(*ir, DCM_ReferencedFileID, refId);
          put(*ir, DCM_ReferencedSOPClassUIDInFile, inst.sopClassUid);
          put(*ir, DCM_ReferencedSOPInstanceUIDInFile, inst.sopInstanceUid);
          put(*ir, DCM_ReferencedTransferSyntaxUIDInFile, inst.transferSyntaxUid);
          put(*ir, DCM_InstanceNumber, inst.instanceNumber.empty() ? std::to_string(iNo) : inst.instanceNumber);
          dir.add(ir, eIdx);
        }
      }
    }
  }
  summary.dicomdirPath = (out / "DICOMDIR").string();
  if (auto r = dir.write(summary.dicomdirPath, fileSetIdFrom(report.volumeId)); !r) return r.error();
  ::sync();
  return summary;
}

}  // namespace discbridge::ingest
