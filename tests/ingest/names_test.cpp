#include "discbridge/ingest/names.h"

#include <gtest/gtest.h>

namespace discbridge::ingest {
namespace {

TEST(Names, DropsIsoVersionSuffixAndTrailingDot) {
  EXPECT_EQ(normaliseComponent("IM000001.;1"), "IM000001");
  EXPECT_EQ(normaliseComponent("README.TXT;1"), "README.TXT");
  EXPECT_EQ(normaliseComponent("DICOMDIR;12"), "DICOMDIR");
  EXPECT_EQ(normaliseComponent("DICOMDIR."), "DICOMDIR");
  EXPECT_EQ(normaliseComponent("a;b"), "a;b");  // not a version suffix
  EXPECT_EQ(normaliseComponent(".."), "..");
}

TEST(Names, MatchKeyIgnoresCaseSeparatorsAndVersions) {
  EXPECT_EQ(matchKey("dicom/st1/se1/im1"), "DICOM/ST1/SE1/IM1");
  EXPECT_EQ(matchKey("DICOM\\ST1\\SE1\\IM1.;1"), "DICOM/ST1/SE1/IM1");
  EXPECT_EQ(matchKey("Dicom/St1/./IM1;1"), "DICOM/ST1/./IM1");
}

TEST(Names, ConfinesReferencesToTheFileSet) {
  auto ok = confineReference({"DICOM", "ST1", "IM1"});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), 3u);
  auto joined = confineReference({"DICOM\\ST1\\IM1"});
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->size(), 3u);
  EXPECT_FALSE(confineReference({"..", "ETC", "PASSWD"}));
  EXPECT_FALSE(confineReference({"DICOM", "..", "..", "X"}));
  EXPECT_FALSE(confineReference({"/etc/passwd"}));
  EXPECT_FALSE(confineReference({"\\WINDOWS"}));
  EXPECT_FALSE(confineReference({"C:", "WINDOWS"}));
  EXPECT_FALSE(confineReference({"DICOM", ""}));
  EXPECT_FALSE(confineReference({}));
  EXPECT_FALSE(confineReference({std::string("A\0B", 3)}));
}

TEST(Names, SafeComponents) {
  EXPECT_TRUE(isSafeComponent("IM1"));
  EXPECT_FALSE(isSafeComponent("."));
  EXPECT_FALSE(isSafeComponent(".."));
  EXPECT_FALSE(isSafeComponent("a/b"));
  EXPECT_FALSE(isSafeComponent("a\\b"));
  EXPECT_FALSE(isSafeComponent(""));
}

TEST(Names, ParentAndBase) {
  EXPECT_EQ(parentOf("A/B/C"), "A/B");
  EXPECT_EQ(parentOf("C"), "");
  EXPECT_EQ(baseName("A/B/C"), "C");
}

}  // namespace
}  // namespace discbridge::ingest
