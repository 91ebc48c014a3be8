// IRWF.b coercion rules on real DCMTK datasets, and a round trip through a
// file that recovers the original values from Original Attributes Sequence.
#include "discbridge/reconcile/coercion.h"

#include <dcmtk/dcmdata/dctk.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace discbridge::reconcile {
namespace {

std::string get(DcmItem& item, const DcmTagKey& key) {
  OFString v;
  item.findAndGetOFStringArray(key, v);
  return v.c_str();
}

std::unique_ptr<DcmFileFormat> instance(const char* charset = nullptr, const char* name = "Doe^Jane") {
  auto ff = std::make_unique<DcmFileFormat>();
  DcmDataset* d = ff->getDataset();
  if (charset) d->putAndInsertString(DCM_SpecificCharacterSet, charset);
  d->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
  d->putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.5.6");
  d->putAndInsertString(DCM_StudyInstanceUID, "1.2.3.4");
  d->putAndInsertString(DCM_SeriesInstanceUID, "1.2.3.4.5");
  d->putAndInsertString(DCM_PatientID, "EXT123");
  d->putAndInsertString(DCM_IssuerOfPatientID, "OUTSIDE");
  d->putAndInsertString(DCM_PatientName, name);
  d->putAndInsertString(DCM_PatientBirthDate, "19700101");
  d->putAndInsertString(DCM_PatientSex, "F");
  d->putAndInsertString(DCM_AccessionNumber, "OUTACC");
  return ff;
}

CoercionPlan plan() {
  CoercionPlan p;
  p.foreignPatientId = "EXT123";
  p.foreignIssuer = "OUTSIDE";
  p.local.mrn = "100001";
  p.local.issuer = "GENHOSP";
  p.local.name = PersonName{"Doe", "Jane", "Q", "", ""};
  p.local.birthDate = "19700102";
  p.local.sex = "F";
  return p;
}

TEST(Coercion, LocalIdentityWrittenUidsUntouched) {
  auto ff = instance();
  DcmDataset& d = *ff->getDataset();
  ASSERT_TRUE(applyCoercion(d, plan(), "20261204120000").ok());
  EXPECT_EQ(get(d, DCM_PatientID), "100001");
  EXPECT_EQ(get(d, DCM_IssuerOfPatientID), "GENHOSP");
  EXPECT_EQ(get(d, DCM_PatientName), "Doe^Jane^Q");
  EXPECT_EQ(get(d, DCM_PatientBirthDate), "19700102");
  EXPECT_EQ(get(d, DCM_SOPInstanceUID), "1.2.3.4.5.6");
  EXPECT_EQ(get(d, DCM_StudyInstanceUID), "1.2.3.4");
  EXPECT_EQ(get(d, DCM_SeriesInstanceUID), "1.2.3.4.5");
  EXPECT_EQ(get(d, DCM_AccessionNumber), "OUTACC");  // policy keep
  EXPECT_EQ(get(d, DCM_InstanceCoercionDateTime), "20261204120000");
}

TEST(Coercion, ForeignIdKeptInOtherPatientIds) {
  auto ff = instance();
  DcmDataset& d = *ff->getDataset();
  DcmItem* pre = nullptr;
  d.findOrCreateSequenceItem(DCM_OtherPatientIDsSequence, pre, 0);
  pre->putAndInsertString(DCM_PatientID, "OLDER");
  ASSERT_TRUE(applyCoercion(d, plan(), "20261204120000").ok());
  DcmSequenceOfItems* seq = nullptr;
  ASSERT_TRUE(d.findAndGetSequence(DCM_OtherPatientIDsSequence, seq).good());
  ASSERT_EQ(seq->card(), 2u);  // the existing item kept
  EXPECT_EQ(get(*seq->getItem(0), DCM_PatientID), "OLDER");
  EXPECT_EQ(get(*seq->getItem(1), DCM_PatientID), "EXT123");
  EXPECT_EQ(get(*seq->getItem(1), DCM_IssuerOfPatientID), "OUTSIDE");
}

TEST(Coercion, OriginalAttributesHoldExactlyTheReplacedValues) {
  auto ff = instance();
  DcmDataset& d = *ff->getDataset();
  ASSERT_TRUE(applyCoercion(d, plan(), "20261204120000").ok());
  DcmItem* orig = nullptr;
  ASSERT_TRUE(d.findAndGetSequenceItem(DCM_OriginalAttributesSequence, orig, 0).good());
  EXPECT_EQ(get(*orig, DCM_ReasonForTheAttributeModification), "COERCE");
  EXPECT_EQ(get(*orig, DCM_ModifyingSystem), "DISCBRIDGE");
  EXPECT_EQ(get(*orig, DCM_SourceOfPreviousValues), "OUTSIDE");
  EXPECT_EQ(get(*orig, DCM_AttributeModificationDateTime), "20261204120000");
  DcmItem* mod = nullptr;
  ASSERT_TRUE(orig->findAndGetSequenceItem(DCM_ModifiedAttributesSequence, mod, 0).good());
  EXPECT_EQ(get(*mod, DCM_PatientID), "EXT123");
  EXPECT_EQ(get(*mod, DCM_IssuerOfPatientID), "OUTSIDE");
  EXPECT_EQ(get(*mod, DCM_PatientName), "Doe^Jane");
  EXPECT_EQ(get(*mod, DCM_PatientBirthDate), "19700101");
  EXPECT_FALSE(mod->tagExists(DCM_PatientSex));       // unchanged: not recorded
  EXPECT_FALSE(mod->tagExists(DCM_AccessionNumber));  // kept
  EXPECT_TRUE(mod->tagExists(DCM_OtherPatientIDsSequence));  // absent before: recorded empty
}

TEST(Coercion, EarlierOriginalAttributesItemsStay) {
  auto ff = instance();
  DcmDataset& d = *ff->getDataset();
  DcmItem* earlier = nullptr;
  d.findOrCreateSequenceItem(DCM_OriginalAttributesSequence, earlier, 0);
  earlier->putAndInsertString(DCM_ModifyingSystem, "OTHER_IMPORTER");
  ASSERT_TRUE(applyCoercion(d, plan(), "20261204120000").ok());
  DcmSequenceOfItems* seq = nullptr;
  d.findAndGetSequence(DCM_OriginalAttributesSequence, seq);
  ASSERT_EQ(seq->card(), 2u);
  EXPECT_EQ(get(*seq->getItem(0), DCM_ModifyingSystem), "OTHER_IMPORTER");
  EXPECT_EQ(get(*seq->getItem(1), DCM_ModifyingSystem), "DISCBRIDGE");
}

TEST(Coercion, AccessionPolicies) {
  {
    auto ff = instance();
    auto p = plan();
    p.accession = AccessionPolicy::Clear;
    ASSERT_TRUE(applyCoercion(*ff->getDataset(), p, "20261204120000").ok());
    EXPECT_EQ(get(*ff->getDataset(), DCM_AccessionNumber), "");
  }
  {
    auto ff = instance();
    auto p = plan();
    p.accession = AccessionPolicy::Replace;
    p.accessionNumber = "LOCAL42";
    ASSERT_TRUE(applyCoercion(*ff->getDataset(), p, "20261204120000").ok());
    EXPECT_EQ(get(*ff->getDataset(), DCM_AccessionNumber), "LOCAL42");
  }
  {
    auto ff = instance();
    auto p = plan();
    p.accession = AccessionPolicy::Replace;
    EXPECT_FALSE(applyCoercion(*ff->getDataset(), p, "20261204120000").ok());
  }
}

TEST(Coercion, IdempotentWhenAppliedTwice) {
  auto ff = instance();
  DcmDataset& d = *ff->getDataset();
  ASSERT_TRUE(applyCoercion(d, plan(), "20261204120000").ok());
  ASSERT_TRUE(applyCoercion(d, plan(), "20261204130000").ok());
  DcmSequenceOfItems* seq = nullptr;
  d.findAndGetSequence(DCM_OriginalAttributesSequence, seq);
  EXPECT_EQ(seq->card(), 1u);
  d.findAndGetSequence(DCM_OtherPatientIDsSequence, seq);
  EXPECT_EQ(seq->card(), 1u);
}

TEST(Coercion, NonAsciiLocalNameMovesTheInstanceToUtf8) {
  auto ff = instance("ISO_IR 100", "M\xfcller^J\xfcrgen");  // Latin-1 bytes
  auto p = plan();
  p.local.name = PersonName{"M\xc3\xbcller", "J\xc3\xbcrgen", "", "", ""};  // UTF-8
  DcmDataset& d = *ff->getDataset();
  ASSERT_TRUE(applyCoercion(d, p, "20261204120000").ok());
  EXPECT_EQ(get(d, DCM_SpecificCharacterSet), "ISO_IR 192");
  EXPECT_EQ(get(d, DCM_PatientName), "M\xc3\xbcller^J\xc3\xbcrgen");
  DcmItem* orig = nullptr;
  DcmItem* mod = nullptr;
  d.findAndGetSequenceItem(DCM_OriginalAttributesSequence, orig, 0);
  orig->findAndGetSequenceItem(DCM_ModifiedAttributesSequence, mod, 0);
  EXPECT_EQ(get(*mod, DCM_PatientID), "EXT123");
}

TEST(Coercion, RoundTripRecoversTheOriginals) {
  auto ff = instance();
  ASSERT_TRUE(applyCoercion(*ff->getDataset(), plan(), "20261204120000").ok());
  auto path = std::filesystem::temp_directory_path() / ("coerced_" + std::to_string(::getpid()) + ".dcm");
  ASSERT_TRUE(ff->saveFile(path.c_str(), EXS_LittleEndianExplicit).good());
  DcmFileFormat back;
  ASSERT_TRUE(back.loadFile(path.c_str()).good());
  std::filesystem::remove(path);
  DcmDataset& d = *back.getDataset();
  EXPECT_EQ(get(d, DCM_PatientID), "100001");
  // Undo: every value in the last Modified Attributes item goes back.
  DcmSequenceOfItems* seq = nullptr;
  ASSERT_TRUE(d.findAndGetSequence(DCM_OriginalAttributesSequence, seq).good());
  DcmItem* mod = nullptr;
  ASSERT_TRUE(seq->getItem(seq->card() - 1)->findAndGetSequenceItem(DCM_ModifiedAttributesSequence, mod, 0).good());
  for (unsigned long i = 0; i < mod->card(); ++i) {
    DcmElement* e = mod->getElement(i);
    if (e->getLength() == 0) {
      d.findAndDeleteElement(e->getTag());
    } else {
      d.insert(dynamic_cast<DcmElement*>(e->clone()), true);
    }
  }
  EXPECT_EQ(get(d, DCM_PatientID), "EXT123");
  EXPECT_EQ(get(d, DCM_IssuerOfPatientID), "OUTSIDE");
  EXPECT_EQ(get(d, DCM_PatientName), "Doe^Jane");
  EXPECT_EQ(get(d, DCM_PatientBirthDate), "19700101");
  EXPECT_FALSE(d.tagExists(DCM_OtherPatientIDsSequence));
}

TEST(Coercion, IssuerQualifiersWhenConfigured) {
  auto ff = instance();
  auto p = plan();
  p.issuerUniversalId = "1.2.3.999";
  ASSERT_TRUE(applyCoercion(*ff->getDataset(), p, "20261204120000").ok());
  DcmItem* q = nullptr;
  ASSERT_TRUE(ff->getDataset()->findAndGetSequenceItem(DCM_IssuerOfPatientIDQualifiersSequence, q, 0).good());
  EXPECT_EQ(get(*q, DCM_UniversalEntityID), "1.2.3.999");
  EXPECT_EQ(get(*q, DCM_UniversalEntityIDType), "ISO");
}

}  // namespace
}  // namespace discbridge::reconcile
