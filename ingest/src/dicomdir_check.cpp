#include "dicomdir_check.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdirrec.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <map>
#include <unordered_map>

#include "discbridge/ingest/names.h"

namespace discbridge::ingest::detail {
namespace {

constexpr int kMaxDepth = 16;

struct Record {
  DcmItem* item = nullptr;
  std::uint32_t offset = 0;
  std::uint32_t next = 0;
  std::uint32_t lower = 0;
  bool hasNextTag = false;
  bool hasLowerTag = false;
  std::string type;
  int parent = -1;
};

std::string get(DcmItem& item, const DcmTagKey& key) {
  OFString v;
  if (item.findAndGetOFStringArray(key, v).good()) return std::string(v.c_str(), v.length());
  return {};
}

bool hasValue(DcmItem& item, const DcmTagKey& key) {
  DcmElement* e = nullptr;
  return item.findAndGetElement(key, e).good() && e != nullptr && e->getLength() > 0;
}

int levelOf(const std::string& type) {
  if (type == "PATIENT") return 0;
  if (type == "STUDY") return 1;
  if (type == "SERIES") return 2;
  return 3;
}

bool knownType(const std::string& t) {
  static const char* const known[] = {
      "PATIENT", "STUDY", "SERIES", "IMAGE", "RT DOSE", "RT STRUCTURE SET", "RT PLAN", "RT TREAT RECORD",
      "PRESENTATION", "WAVEFORM", "SR DOCUMENT", "KEY OBJECT DOC", "SPECTROSCOPY", "RAW DATA", "REGISTRATION",
      "FIDUCIAL", "HANGING PROTOCOL", "ENCAP DOC", "HL7 STRUC DOC", "VALUE MAP", "STEREOMETRIC", "PALETTE",
      "IMPLANT", "IMPLANT ASSY", "IMPLANT GROUP", "PLAN", "MEASUREMENT", "SURFACE", "SURFACE SCAN", "TRACT",
      "ASSESSMENT", "RADIOTHERAPY", "ANNOTATION", "PRIVATE", "MRDR", "TOPIC", "VISIT", "RESULTS",
      "INTERPRETATION", "STUDY COMPONENT", "STORED PRINT", "OVERLAY", "MODALITY LUT", "VOI LUT", "CURVE",
      "FILM SESSION", "FILM BOX", "IMAGE BOX"};
  for (const char* k : known) {
    if (t == k) return true;
  }
  return false;
}

// Links records through their offsets; false when the offsets do not describe
// one tree over all records.
bool linkByOffsets(std::vector<Record>& records, std::uint32_t rootOffset, std::vector<std::string>& problems) {
  std::unordered_map<std::uint32_t, int> byOffset;
  for (int i = 0; i < static_cast<int>(records.size()); ++i) byOffset[records[i].offset] = i;
  std::vector<bool> seen(records.size(), false);
  std::size_t reached = 0;
  bool ok = true;
  // Iterative walk: (offset of the first record of an entity, parent index, depth).
  struct Entity {
    std::uint32_t first;
    int parent;
    int depth;
  };
  std::vector<Entity> todo{{rootOffset, -1, 0}};
  while (!todo.empty()) {
    Entity e = todo.back();
    todo.pop_back();
    std::uint32_t off = e.first;
    while (off != 0) {
      auto it = byOffset.find(off);
      if (it == byOffset.end()) {
        problems.push_back("an offset (" + std::to_string(off) + ") does not point at a directory record");
        ok = false;
        break;
      }
      int idx = it->second;
      if (seen[idx]) {
        problems.push_back("the record at offset " + std::to_string(off) + " is reached twice (a cycle)");
        ok = false;
        break;
      }
      seen[idx] = true;
      ++reached;
      records[idx].parent = e.parent;
      if (records[idx].lower != 0) {
        if (e.depth + 1 >= kMaxDepth) {
          problems.push_back("directory records nest deeper than " + std::to_string(kMaxDepth) + " levels");
          ok = false;
        } else {
          todo.push_back({records[idx].lower, idx, e.depth + 1});
        }
      }
      off = records[idx].next;
    }
  }
  if (reached != records.size()) {
    problems.push_back(std::to_string(records.size() - reached) + " of " + std::to_string(records.size()) +
                       " directory records are not reachable through the offsets");
    ok = false;
  }
  return ok;
}

// Fallback when offsets are broken: writers list records depth-first, so a
// record's parent is the nearest earlier record of a higher level.
void linkBySequenceOrder(std::vector<Record>& records) {
  int last[3] = {-1, -1, -1};
  for (int i = 0; i < static_cast<int>(records.size()); ++i) {
    int level = levelOf(records[i].type);
    int parent = -1;
    for (int l = std::min(level, 3) - 1; l >= 0; --l) {
      if (last[l] >= 0) {
        parent = last[l];
        break;
      }
    }
    records[i].parent = parent;
    if (level < 3) {
      last[level] = i;
      for (int l = level + 1; l < 3; ++l) last[l] = -1;
    }
  }
}

}  // namespace

DicomdirContent readDicomdir(DcmFileFormat& ff) {
  DicomdirContent out;
  auto& problems = out.problems;
  DcmDataset& ds = *ff.getDataset();

  E_TransferSyntax xfer = ds.getOriginalXfer();
  if (xfer != EXS_LittleEndianExplicit) {
    problems.push_back(std::string("encoded in ") + DcmXfer(xfer).getXferName() +
                       ", a DICOMDIR must be Explicit VR Little Endian");
  }
  Uint16 consistency = 0;
  if (ds.findAndGetUint16(DCM_FileSetConsistencyFlag, consistency).good() && consistency != 0) {
    problems.push_back("File-set Consistency Flag is " + std::to_string(consistency) + ", must be 0000H");
  }

  DcmSequenceOfItems* seq = nullptr;
  if (ds.findAndGetSequence(DCM_DirectoryRecordSequence, seq).bad() || seq == nullptr) {
    problems.push_back("no Directory Record Sequence");
    return out;
  }

  std::vector<Record> records;
  std::size_t missingOffsets = 0;
  for (DcmObject* o = seq->nextInContainer(nullptr); o != nullptr; o = seq->nextInContainer(o)) {
    auto* item = dynamic_cast<DcmItem*>(o);
    if (item == nullptr) continue;
    Record r;
    r.item = item;
    if (auto* dr = dynamic_cast<DcmDirectoryRecord*>(item)) r.offset = dr->getFileOffset();
    Uint32 v = 0;
    r.hasNextTag = item->findAndGetUint32(DCM_OffsetOfTheNextDirectoryRecord, v).good();
    r.next = r.hasNextTag ? v : 0;
    r.hasLowerTag = item->findAndGetUint32(DCM_OffsetOfReferencedLowerLevelDirectoryEntity, v).good();
    r.lower = r.hasLowerTag ? v : 0;
    if (!r.hasNextTag || !r.hasLowerTag) ++missingOffsets;
    r.type = get(*item, DCM_DirectoryRecordType);
    records.push_back(std::move(r));
  }
  if (missingOffsets > 0) {
    problems.push_back(std::to_string(missingOffsets) + " records lack their Type 1 offset elements");
  }

  std::map<std::string, std::size_t> unknownTypes;
  for (const auto& r : records) {
    if (!knownType(r.type)) ++unknownTypes[r.type.empty() ? "(empty)" : r.type];
  }
  for (const auto& [type, n] : unknownTypes) {
    problems.push_back(std::to_string(n) + " records of unknown type '" + type + "' (read, not trusted)");
  }

  Uint32 root = 0;
  bool haveRoot = ds.findAndGetUint32(DCM_OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity, root).good();
  if (!records.empty()) {
    if (!haveRoot || !linkByOffsets(records, root, problems)) {
      if (!haveRoot) problems.push_back("no offset of the first root directory record");
      problems.push_back("records linked by their order in the sequence instead of their offsets");
      linkBySequenceOrder(records);
    }
  }

  // Hierarchy and Type 1 keys (PS3.3 F.5), counted per kind of defect.
  std::map<std::string, std::size_t> defects;
  for (auto& r : records) {
    int parentLevel = r.parent >= 0 ? levelOf(records[r.parent].type) : -1;
    int level = levelOf(r.type);
    if (knownType(r.type) && parentLevel != std::min(level, 3) - 1 && r.type != "PRIVATE") {
      ++defects[r.type + " record not under a " +
                (level == 0 ? std::string("root") : level == 1 ? "PATIENT" : level == 2 ? "STUDY" : "SERIES") +
                " record"];
    }
    auto need = [&](const DcmTagKey& key, const char* what) {
      if (!hasValue(*r.item, key)) ++defects[r.type + " record without " + what];
    };
    if (r.type == "PATIENT") need(DCM_PatientID, "Patient ID");
    if (r.type == "STUDY") {
      need(DCM_StudyDate, "Study Date");
      need(DCM_StudyTime, "Study Time");
      need(DCM_StudyID, "Study ID");
    }
    if (r.type == "SERIES") {
      need(DCM_Modality, "Modality");
      need(DCM_SeriesInstanceUID, "Series Instance UID");
      need(DCM_SeriesNumber, "Series Number");
    }
    if (r.type == "IMAGE") need(DCM_InstanceNumber, "Instance Number");
  }

  for (auto& r : records) {
    if (!r.item->tagExists(DCM_ReferencedFileID)) continue;
    DirReference ref;
    ref.recordType = r.type;
    ref.rawFileId = get(*r.item, DCM_ReferencedFileID);
    std::vector<std::string> values;
    DcmElement* e = nullptr;
    if (r.item->findAndGetElement(DCM_ReferencedFileID, e).good() && e != nullptr) {
      for (unsigned long i = 0; i < e->getVM(); ++i) {
        OFString v;
        if (e->getOFString(v, i).good()) values.emplace_back(v.c_str(), v.length());
      }
    }
    ref.components = confineReference(values);
    ref.sopClassUid = get(*r.item, DCM_ReferencedSOPClassUIDInFile);
    ref.sopInstanceUid = get(*r.item, DCM_ReferencedSOPInstanceUIDInFile);
    ref.transferSyntaxUid = get(*r.item, DCM_ReferencedTransferSyntaxUIDInFile);
    if (ref.sopInstanceUid.empty()) ++defects[r.type + " record without Referenced SOP Instance UID in File"];
    int depth = 0;
    for (int p = r.parent; p >= 0 && depth < kMaxDepth; p = records[p].parent, ++depth) {
      Record& a = records[p];
      if (a.type == "PATIENT" && !ref.havePatient) {
        ref.patientId = get(*a.item, DCM_PatientID);
        ref.havePatient = true;
      } else if (a.type == "STUDY" && !ref.haveStudy) {
        ref.studyUid = get(*a.item, DCM_StudyInstanceUID);
        ref.haveStudy = !ref.studyUid.empty();
      } else if (a.type == "SERIES" && !ref.haveSeries) {
        ref.seriesUid = get(*a.item, DCM_SeriesInstanceUID);
        ref.haveSeries = !ref.seriesUid.empty();
      }
    }
    out.references.push_back(std::move(ref));
  }
  for (const auto& [what, n] : defects) problems.push_back(std::to_string(n) + " " + what);
  return out;
}

}  // namespace discbridge::ingest::detail
