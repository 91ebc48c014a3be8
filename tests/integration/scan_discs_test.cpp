// The real discbridge binary on each generated defect disc (ISO images
// mastered by xorriso/genisoimage), asserting the report's contract.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "cli_runner.h"

namespace discbridge::test {
namespace {

namespace fs = std::filesystem;

nlohmann::json scanOk(const std::string& name, int expectedStatus = 0) {
  auto r = runCli({"scan", disc(name), "--json"});
  EXPECT_EQ(r.status, expectedStatus) << name << "\n" << r.out;
  EXPECT_FALSE(r.json.is_discarded()) << name << ": output is not JSON";
  return r.json;
}

TEST(ScanDiscs, ConformantLevel1DiscReadsCompletely) {
  auto j = scanOk("good.iso");
  EXPECT_EQ(j["medium"]["kind"], "iso9660");
  EXPECT_EQ(j["medium"]["volume_id"], "GOOD_DISC");
  ASSERT_EQ(j["patients"].size(), 1u);
  const auto& p = j["patients"][0];
  EXPECT_EQ(p["patient_id"], "EXT123");
  EXPECT_EQ(p["issuer"], "OUTSIDE_HOSP");
  EXPECT_EQ(p["name"], "Doe^Jane");
  EXPECT_EQ(p["birth_date"], "19700101");
  EXPECT_EQ(p["sex"], "F");
  ASSERT_EQ(p["studies"].size(), 1u);
  const auto& s = p["studies"][0];
  EXPECT_EQ(s["accession_number"], "ACC1");
  EXPECT_EQ(s["study_date"], "20260315");
  ASSERT_EQ(s["series"].size(), 2u);
  EXPECT_EQ(s["series"][0]["modality"], "CT");
  EXPECT_EQ(s["series"][0]["instance_count"], 3);
  EXPECT_EQ(s["series"][1]["modality"], "MR");
  EXPECT_EQ(s["series"][1]["instance_count"], 2);
  EXPECT_EQ(j["summary"]["instances"], 5);
  EXPECT_EQ(j["summary"]["ignored_files"], 1);  // README.TXT
  EXPECT_EQ(countSeverity(j, "error"), 0u);
  EXPECT_EQ(countSeverity(j, "warning"), 0u);  // ";1" names matched the DICOMDIR
  EXPECT_EQ(countCode(j, "NOT_DICOM"), 1u);
}

TEST(ScanDiscs, FolderSourceGivesTheSameContent) {
  auto j = scanOk("good_folder");
  EXPECT_EQ(j["medium"]["kind"], "directory");
  EXPECT_EQ(j["summary"]["instances"], 5);
  EXPECT_EQ(countSeverity(j, "warning"), 0u);
}

TEST(ScanDiscs, LowerCaseNamesMatchUpperCaseDicomdir) {
  auto j = scanOk("lowercase.iso");
  EXPECT_EQ(j["summary"]["instances"], 5);
  EXPECT_EQ(countCode(j, "DICOMDIR_MISSING_FILE"), 0u);
  EXPECT_EQ(countCode(j, "DICOMDIR_UNREFERENCED_FILE"), 0u);
}

TEST(ScanDiscs, NoDicomdirLongNamesAndViewer) {
  auto j = scanOk("no_dicomdir.iso");
  EXPECT_EQ(j["summary"]["instances"], 4);
  EXPECT_EQ(countCode(j, "DICOMDIR_MISSING"), 1u);
  EXPECT_EQ(countCode(j, "NOT_DICOM"), 2u);  // autorun.inf and viewer.exe, never run
  bool longName = false;
  for (const auto& i : j["patients"][0]["studies"][0]["series"][0]["instances"])
    longName |= i["path"].get<std::string>().find("Computed Tomography slice") != std::string::npos;
  EXPECT_TRUE(longName);
}

TEST(ScanDiscs, DanglingAndUnlistedFiles) {
  auto j = scanOk("dangling.iso");
  EXPECT_EQ(countCode(j, "DICOMDIR_MISSING_FILE"), 1u);
  EXPECT_EQ(countCode(j, "DICOMDIR_UNREFERENCED_FILE"), 1u);
  EXPECT_EQ(j["summary"]["instances"], 5);  // 4 listed + 1 unlisted
}

TEST(ScanDiscs, TraversalInDicomdirIsRefused) {
  auto j = scanOk("traversal.iso");
  EXPECT_EQ(countCode(j, "PATH_OUTSIDE_MEDIUM"), 1u);
  for (const auto& f : j["findings"]) {
    if (f["code"] == "PATH_OUTSIDE_MEDIUM") {
      EXPECT_EQ(f["severity"], "error");
    }
  }
  // The file whose record was rewritten is still found by content.
  EXPECT_EQ(j["summary"]["instances"], 5);
  EXPECT_EQ(countCode(j, "DICOMDIR_UNREFERENCED_FILE"), 1u);
}

TEST(ScanDiscs, TruncatedAndJunkFilesAreCorrupt) {
  auto j = scanOk("corrupt.iso");
  EXPECT_EQ(countCode(j, "CORRUPT_INSTANCE"), 2u);
  EXPECT_EQ(j["summary"]["corrupt"], 2);
  EXPECT_EQ(j["summary"]["instances"], 4);
}

TEST(ScanDiscs, NonDicomDiscSaysWhatItHolds) {
  auto j = scanOk("non_dicom.iso", 3);
  EXPECT_TRUE(j["patients"].empty());
  ASSERT_EQ(countCode(j, "NO_DICOM_CONTENT"), 1u);
  std::string msg;
  for (const auto& f : j["findings"])
    if (f["code"] == "NO_DICOM_CONTENT") msg = f["message"];
  EXPECT_NE(msg.find("PDF"), std::string::npos) << msg;
  EXPECT_NE(msg.find("JPEG"), std::string::npos) << msg;
  EXPECT_NE(msg.find("autorun"), std::string::npos) << msg;
  EXPECT_EQ(countCode(j, "NOT_DICOM"), 5u);
}

TEST(ScanDiscs, TwoPatients) {
  auto j = scanOk("two_patients.iso");
  EXPECT_EQ(j["patients"].size(), 2u);
  EXPECT_EQ(countCode(j, "MULTIPLE_PATIENTS"), 1u);
  EXPECT_EQ(j["summary"]["instances"], 10);
}

TEST(ScanDiscs, DuplicatesIdenticalKeptOnceConflictingExcluded) {
  auto j = scanOk("duplicates.iso");
  // IM1 twice identical: one kept; IM2 twice with different content: both out.
  EXPECT_EQ(j["summary"]["instances"], 4);
  EXPECT_EQ(j["summary"]["duplicates"], 3);
  std::size_t warn = 0, err = 0;
  for (const auto& f : j["findings"]) {
    if (f["code"] != "DUPLICATE_INSTANCE") continue;
    (f["severity"] == "error" ? err : warn)++;
  }
  EXPECT_EQ(warn, 1u);
  EXPECT_EQ(err, 2u);
}

TEST(ScanDiscs, EveryTransferSyntaxIsAccepted) {
  auto j = scanOk("transfer_syntaxes.iso");
  EXPECT_EQ(j["summary"]["instances"], 8);
  EXPECT_EQ(countCode(j, "CORRUPT_INSTANCE"), 0u);
  std::set<std::string> ts;
  for (const auto& i : j["patients"][0]["studies"][0]["series"][0]["instances"]) ts.insert(i["transfer_syntax_uid"]);
  for (const char* uid : {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
                          "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80",
                          "1.2.840.10008.1.2.5"}) {
    EXPECT_TRUE(ts.count(uid)) << uid;
  }
}

TEST(ScanDiscs, BareDatasetsNeedAMetaHeader) {
  auto j = scanOk("no_meta.iso");
  EXPECT_EQ(j["summary"]["instances"], 2);
  EXPECT_EQ(countCode(j, "MISSING_FILE_META"), 2u);
}

TEST(ScanDiscs, NamesDecodedFromTheirCharacterSets) {
  auto j = scanOk("charsets.iso");
  std::map<std::string, std::string> names;
  for (const auto& p : j["patients"]) names[p["patient_id"]] = p["name"];
  EXPECT_EQ(names["LAT1"], "M\xc3\xbcller^J\xc3\xbcrgen");
  EXPECT_EQ(names["UTF8"], "\xc3\x98ster^Zo\xc3\xab");
  EXPECT_EQ(names["NOSET"], "Fran\xc3\xa7ois^Andr\xc3\xa9");  // undeclared Latin-1, read as such
  EXPECT_EQ(countCode(j, "CHARSET_MISLABELLED"), 1u);
}

TEST(ScanDiscs, RecordThatDisagreesWithItsFile) {
  auto j = scanOk("record_mismatch.iso");
  EXPECT_EQ(countCode(j, "DICOMDIR_RECORD_MISMATCH"), 5u);
  EXPECT_EQ(j["patients"][0]["patient_id"], "EXT123");  // the file wins
}

TEST(ScanDiscs, BrokenDicomdirIsToleratedAndReported) {
  auto j = scanOk("bad_dicomdir.iso");
  EXPECT_EQ(j["summary"]["instances"], 5);
  ASSERT_EQ(countCode(j, "DICOMDIR_NONCONFORMANT"), 1u);
  std::string msg;
  for (const auto& f : j["findings"])
    if (f["code"] == "DICOMDIR_NONCONFORMANT") msg = f["message"];
  EXPECT_NE(msg.find("Study ID"), std::string::npos) << msg;
  EXPECT_NE(msg.find("offset"), std::string::npos) << msg;
  EXPECT_EQ(countCode(j, "DICOMDIR_UNREFERENCED_FILE"), 0u);  // recovered by sequence order
}

TEST(ScanDiscs, UnreadableDicomdir) {
  auto j = scanOk("invalid_dicomdir.iso");
  EXPECT_EQ(countCode(j, "DICOMDIR_INVALID"), 1u);
  EXPECT_EQ(j["summary"]["instances"], 5);
}

TEST(ScanDiscs, PrivateSopClassKeptAndExecutablePreambleFlagged) {
  auto j = scanOk("odd_instances.iso");
  EXPECT_EQ(j["summary"]["instances"], 2);
  EXPECT_EQ(countCode(j, "UNSUPPORTED_SOP_CLASS"), 1u);
  EXPECT_EQ(countCode(j, "EXECUTABLE_PREAMBLE"), 1u);
}

TEST(ScanDiscs, UdfBridgeAndUdfOnly) {
  auto bridge = scanOk("udf_bridge.iso");
  EXPECT_EQ(bridge["summary"]["instances"], 5);
  auto udf = scanOk("udf_only.iso");
  EXPECT_EQ(udf["medium"]["kind"], "udf");
  EXPECT_EQ(udf["medium"]["volume_id"], "UDF_DISC");
  EXPECT_EQ(udf["summary"]["instances"], 5);
  EXPECT_EQ(countSeverity(udf, "warning"), 0u);
}

TEST(ScanDiscs, ImageCutShortCostsOnlyTheLostFiles) {
  auto j = scanOk("truncated.iso");
  EXPECT_GE(countCode(j, "MEDIA_READ_ERROR"), 1u);
  EXPECT_GE(j["summary"]["instances"].get<int>(), 1);
  EXPECT_LT(j["summary"]["instances"].get<int>(), 8);
}

TEST(ScanDiscs, TwoSessionsReadThroughTheLast) {
  auto j = scanOk("multisession.iso");
  EXPECT_EQ(j["summary"]["instances"], 10);
  ASSERT_EQ(j["patients"].size(), 1u);
  EXPECT_EQ(j["patients"][0]["studies"].size(), 2u);
  EXPECT_EQ(countCode(j, "DICOMDIR_UNREFERENCED_FILE"), 0u);  // the second session's DICOMDIR lists both
}

TEST(ScanDiscs, EmptyDisc) {
  auto j = scanOk("empty.iso", 3);
  EXPECT_EQ(countCode(j, "NO_DICOM_CONTENT"), 1u);
}

TEST(ScanDiscs, UnreadableSourceAndUsageErrors) {
  EXPECT_EQ(runCli({"scan", disc("not_an_image.iso"), "--json"}, false).status, 4);
  EXPECT_EQ(runCli({"scan", disc("does_not_exist.iso")}, false).status, 4);
  EXPECT_EQ(runCli({"scan"}, false).status, 2);
  EXPECT_EQ(runCli({"frobnicate"}, false).status, 2);
}

TEST(ScanDiscs, TextReportByDefault) {
  auto r = runCli({"scan", disc("good.iso")}, false);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("Doe^Jane"), std::string::npos);
  EXPECT_NE(r.out.find("5 importable instances"), std::string::npos);
}

class RepairDiscs : public ::testing::TestWithParam<std::string> {};

// Repair writes a conformant copy that re-scans without error or DICOMDIR finding.
TEST_P(RepairDiscs, CopyRescansClean) {
  fs::path out = fs::path(env("DISCBRIDGE_FIXTURES")) / ("repaired_" + GetParam());
  fs::remove_all(out);
  auto before = scanOk(GetParam() + ".iso");
  auto r = runCli({"repair", disc(GetParam() + ".iso"), "--out", out.string(), "--json"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.json["instances"], before["summary"]["instances"]);
  auto after = runCli({"scan", out.string(), "--json"});
  ASSERT_EQ(after.status, 0);
  EXPECT_EQ(after.json["summary"]["instances"], before["summary"]["instances"]);
  EXPECT_EQ(countSeverity(after.json, "error"), 0u) << after.out;
  for (const char* c : {"DICOMDIR_MISSING", "DICOMDIR_NONCONFORMANT", "DICOMDIR_MISSING_FILE",
                        "DICOMDIR_UNREFERENCED_FILE", "DICOMDIR_RECORD_MISMATCH", "MISSING_FILE_META",
                        "EXECUTABLE_PREAMBLE", "NOT_DICOM"}) {
    EXPECT_EQ(countCode(after.json, c), 0u) << c;
  }
  // PS3.12 file IDs: upper case, at most 8 characters, at most 8 levels.
  for (const auto& e : fs::recursive_directory_iterator(out)) {
    auto rel = fs::relative(e.path(), out);
    EXPECT_LE(std::distance(rel.begin(), rel.end()), 8);
    std::string name = e.path().filename().string();
    EXPECT_LE(name.size(), 8u) << name;
    for (char c : name) EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') << name;
  }
  // Preambles are zeroed in every copy.
  for (const auto& e : fs::recursive_directory_iterator(out / "DICOM")) {
    if (!e.is_regular_file()) continue;
    std::ifstream f(e.path(), std::ios::binary);
    char head[132];
    f.read(head, 132);
    EXPECT_EQ(std::string(head + 128, 4), "DICM");
    EXPECT_EQ(std::count(head, head + 128, '\0'), 128);
  }
  fs::remove_all(out);
}

INSTANTIATE_TEST_SUITE_P(Defects, RepairDiscs,
                         ::testing::Values("good", "no_dicomdir", "dangling", "traversal", "corrupt", "duplicates",
                                           "transfer_syntaxes", "no_meta", "record_mismatch", "bad_dicomdir",
                                           "invalid_dicomdir", "odd_instances", "udf_only", "multisession",
                                           "two_patients"));

TEST(RepairDiscs, RefusesANonEmptyOutputAndAnEmptyDisc) {
  fs::path out = fs::path(env("DISCBRIDGE_FIXTURES")) / "repair_nonempty";
  fs::create_directories(out);
  std::ofstream(out / "KEEP") << "x";
  EXPECT_EQ(runCli({"repair", disc("good.iso"), "--out", out.string()}, false).status, 1);
  EXPECT_TRUE(fs::exists(out / "KEEP"));
  EXPECT_EQ(runCli({"repair", disc("non_dicom.iso"), "--out", (out / "x").string()}, false).status, 3);
  fs::remove_all(out);
}

}  // namespace
}  // namespace discbridge::test
