// The DICOMDIR reader on DICOMDIRs written here with DCMTK: links by offsets,
// falls back to sequence order, reports Annex F violations, refuses traversal.
#include "dicomdir_check.h"

#include <dcmtk/dcmdata/dctk.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace discbridge::ingest::detail {
namespace {

DcmItem* record(DcmSequenceOfItems& seq, const char* type) {
  auto* item = new DcmItem(DcmTag(DCM_Item));
  for (auto key : {DCM_OffsetOfTheNextDirectoryRecord, DCM_OffsetOfReferencedLowerLevelDirectoryEntity}) {
    auto* e = new DcmUnsignedLong(DcmTag(key, EVR_UL));
    e->putUint32(0);
    item->insert(e);
  }
  item->putAndInsertString(DCM_DirectoryRecordType, type);
  seq.insert(item);
  return item;
}

void setOffset(DcmItem& item, const DcmTagKey& key, Uint32 v) {
  auto* e = new DcmUnsignedLong(DcmTag(key, EVR_UL));
  e->putUint32(v);
  item.insert(e, true);
}

// Writes a PATIENT/STUDY/SERIES/IMAGE chain; link: use real offsets.
std::unique_ptr<DcmFileFormat> roundTrip(const char* fileId, bool link, E_TransferSyntax xfer = EXS_LittleEndianExplicit) {
  auto path = std::filesystem::temp_directory_path() / ("dd_test_" + std::to_string(::getpid()));
  DcmFileFormat ff;
  auto* seq = new DcmSequenceOfItems(DCM_DirectoryRecordSequence);
  DcmItem* p = record(*seq, "PATIENT");
  p->putAndInsertString(DCM_PatientID, "P1");
  DcmItem* st = record(*seq, "STUDY");
  st->putAndInsertString(DCM_StudyInstanceUID, "1.2.3");
  st->putAndInsertString(DCM_StudyDate, "20260101");
  st->putAndInsertString(DCM_StudyTime, "1200");
  st->putAndInsertString(DCM_StudyID, "1");
  DcmItem* se = record(*seq, "SERIES");
  se->putAndInsertString(DCM_SeriesInstanceUID, "1.2.3.4");
  se->putAndInsertString(DCM_Modality, "CT");
  se->putAndInsertString(DCM_SeriesNumber, "1");
  DcmItem* im = record(*seq, "IMAGE");
  im->putAndInsertString(DCM_ReferencedFileID, fileId);
  im->putAndInsertString(DCM_ReferencedSOPInstanceUIDInFile, "1.2.3.4.5");
  im->putAndInsertString(DCM_InstanceNumber, "1");
  ff.getDataset()->insert(seq);
  setOffset(*ff.getDataset(), DCM_OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity, 0);
  ff.getMetaInfo()->putAndInsertString(DCM_MediaStorageSOPClassUID, UID_MediaStorageDirectoryStorage);
  EXPECT_TRUE(ff.saveFile(path.c_str(), xfer).good());
  if (link) {
    DcmFileFormat back;
    EXPECT_TRUE(back.loadFile(path.c_str()).good());
    DcmSequenceOfItems* s = nullptr;
    back.getDataset()->findAndGetSequence(DCM_DirectoryRecordSequence, s);
    std::vector<Uint32> off;
    for (unsigned long i = 0; i < s->card(); ++i) off.push_back(dynamic_cast<DcmDirectoryRecord*>(s->getItem(i))->getFileOffset());
    setOffset(*ff.getDataset(), DCM_OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity, off[0]);
    setOffset(*p, DCM_OffsetOfReferencedLowerLevelDirectoryEntity, off[1]);
    setOffset(*st, DCM_OffsetOfReferencedLowerLevelDirectoryEntity, off[2]);
    setOffset(*se, DCM_OffsetOfReferencedLowerLevelDirectoryEntity, off[3]);
    EXPECT_TRUE(ff.saveFile(path.c_str(), xfer).good());
  }
  auto out = std::make_unique<DcmFileFormat>();
  EXPECT_TRUE(out->loadFile(path.c_str()).good());
  std::filesystem::remove(path);
  return out;
}

TEST(DicomdirCheck, LinkedDirectoryIsConformantAndCarriesAncestorKeys) {
  auto ff = roundTrip("DICOM\\IM1", true);
  auto c = readDicomdir(*ff);
  EXPECT_TRUE(c.problems.empty()) << c.problems.front();
  ASSERT_EQ(c.references.size(), 1u);
  const auto& r = c.references[0];
  ASSERT_TRUE(r.components);
  EXPECT_EQ(r.components->size(), 2u);
  EXPECT_EQ(r.patientId, "P1");
  EXPECT_EQ(r.studyUid, "1.2.3");
  EXPECT_EQ(r.seriesUid, "1.2.3.4");
}

TEST(DicomdirCheck, BrokenOffsetsFallBackToSequenceOrder) {
  auto ff = roundTrip("DICOM\\IM1", false);  // root offset 0: nothing reachable
  auto c = readDicomdir(*ff);
  ASSERT_FALSE(c.problems.empty());
  bool fellBack = false;
  for (const auto& p : c.problems) fellBack |= p.find("order in the sequence") != std::string::npos;
  EXPECT_TRUE(fellBack);
  ASSERT_EQ(c.references.size(), 1u);
  EXPECT_EQ(c.references[0].patientId, "P1");  // hierarchy recovered anyway
  EXPECT_EQ(c.references[0].seriesUid, "1.2.3.4");
}

TEST(DicomdirCheck, WrongTransferSyntaxIsNonconformant) {
  auto ff = roundTrip("DICOM\\IM1", true, EXS_LittleEndianImplicit);
  auto c = readDicomdir(*ff);
  bool found = false;
  for (const auto& p : c.problems) found |= p.find("Explicit VR Little Endian") != std::string::npos;
  EXPECT_TRUE(found);
}

TEST(DicomdirCheck, TraversalReferenceIsRefused) {
  auto ff = roundTrip("..\\..\\ETC\\PASSWD", true);
  auto c = readDicomdir(*ff);
  ASSERT_EQ(c.references.size(), 1u);
  EXPECT_FALSE(c.references[0].components);
}

}  // namespace
}  // namespace discbridge::ingest::detail
