// mpi import, mpi search and match through the real binary: the embedded
// SQLite index, and a real Orthanc serving a Modality Worklist.
#include <dcmtk/dcmdata/dctk.h>
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "cli_runner.h"
#include "../support/orthanc_server.h"

namespace discbridge::test {
namespace {

namespace fs = std::filesystem;

class MatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::path(env("DISCBRIDGE_FIXTURES")) /
            ("home_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(home_);
    fs::create_directories(home_);
  }
  void TearDown() override { fs::remove_all(home_); }

  // The binary with this test's own data directory.
  CliResult cli(std::vector<std::string> args, bool json = true) {
    args.insert(args.begin(), {"--data-dir", home_.string()});
    return runCli(args, json);
  }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(home_ / name, std::ios::binary) << text;
    return (home_ / name).string();
  }
  fs::path home_;
};

const char* kLocal =
    "mrn,issuer,family,given,middle,birth_date,sex,previous_names,other_ids\n"
    "100001,GENHOSP,Doe,Jane,,1970-01-01,F,,\n"
    "100002,GENHOSP,Doe,John,,1970-01-01,M,,\n"
    "100003,GENHOSP,Roe,Richard,,19551212,M,,EXT999@OUTSIDE_HOSP\n"
    "100004,GENHOSP,Mueller,Juergen,,19700101,M,,\n"
    "100005,GENHOSP,Oster,Zoe,,19700101,F,,\n"
    "broken,\"line\n";

const nlohmann::json* patientWithId(const nlohmann::json& j, const std::string& id) {
  for (const auto& p : j["patients"])
    if (p["patient_id"] == id) return &p;
  return nullptr;
}

TEST_F(MatchTest, ImportReportsBadLinesAndKeepsGoodOnes) {
  auto r = cli({"mpi", "import", write("local.csv", kLocal), "--json"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.json["created"], 5);
  ASSERT_EQ(r.json["problems"].size(), 1u);
  EXPECT_EQ(r.json["problems"][0]["line"], 7);
}

TEST_F(MatchTest, MatchRanksTheTruePatientFirstWithExplanations) {
  ASSERT_EQ(cli({"mpi", "import", write("local.csv", kLocal)}, false).status, 0);
  auto r = cli({"match", disc("two_patients.iso"), "--json"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.json["directory"], "sqlite");
  const auto* jane = patientWithId(r.json, "EXT123");
  ASSERT_NE(jane, nullptr);
  EXPECT_EQ((*jane)["name"], "Doe^Jane");
  EXPECT_TRUE((*jane)["conflicts"].empty());
  ASSERT_FALSE((*jane)["candidates"].empty());
  const auto& best = (*jane)["candidates"][0];
  EXPECT_EQ(best["mrn"], "100001");
  EXPECT_EQ(best["issuer"], "GENHOSP");
  EXPECT_EQ(best["strength"], "strong");
  EXPECT_GT(best["score"].get<double>(), 0.9);
  EXPECT_LE(best["score"].get<double>(), 1.0);
  std::set<std::string> fields;
  for (const auto& f : best["fields"]) {
    fields.insert(f["field"]);
    EXPECT_TRUE(f.contains("disc") && f.contains("local") && f.contains("agreement"));
  }
  for (const char* f : {"family_name", "given_name", "birth_date", "sex"}) EXPECT_TRUE(fields.count(f)) << f;
  // John Doe, same birth date but another person: never strong.
  for (const auto& c : (*jane)["candidates"]) {
    if (c["mrn"] == "100002") {
      EXPECT_NE(c["strength"], "strong");
    }
  }
  const auto* richard = patientWithId(r.json, "EXT999");
  ASSERT_NE(richard, nullptr);
  EXPECT_EQ((*richard)["candidates"][0]["mrn"], "100003");
}

TEST_F(MatchTest, DiacriticsOnTheDiscMatchTransliteratedLocalNames) {
  ASSERT_EQ(cli({"mpi", "import", write("local.csv", kLocal)}, false).status, 0);
  auto r = cli({"match", disc("charsets.iso"), "--json"});
  ASSERT_EQ(r.status, 0);
  const auto* latin = patientWithId(r.json, "LAT1");  // Müller^Jürgen, 19700101, F
  ASSERT_NE(latin, nullptr);
  ASSERT_FALSE((*latin)["candidates"].empty());
  const auto& best = (*latin)["candidates"][0];
  EXPECT_EQ(best["mrn"], "100004");
  EXPECT_EQ(best["fields"][0]["agreement"], "equivalent");
  EXPECT_NE(best["strength"], "strong");  // sex differs (F on the disc, M locally)
}

TEST_F(MatchTest, SearchAndUnknownMrn) {
  ASSERT_EQ(cli({"mpi", "import", write("local.csv", kLocal)}, false).status, 0);
  auto s = cli({"mpi", "search", "Doe^Jane 19700101", "--json"});
  ASSERT_EQ(s.status, 0);
  ASSERT_FALSE(s.json["candidates"].empty());
  EXPECT_EQ(s.json["candidates"][0]["mrn"], "100001");
  auto byMrn = cli({"mpi", "search", "mrn:100003", "--json"});
  ASSERT_EQ(byMrn.json["candidates"].size(), 1u);
  auto none = cli({"mpi", "search", "mrn:999999", "--json"});
  EXPECT_TRUE(none.json["candidates"].empty());
  auto garbage = cli({"mpi", "search", "^^^", "--json"});
  EXPECT_TRUE(garbage.json["candidates"].empty());
}

std::string today() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
  return buf;
}

void writeWorklistItem(const fs::path& file, const std::string& name, const std::string& id, const std::string& dob,
                       const std::string& sex, const std::string& accession, const std::string& date) {
  DcmFileFormat ff;
  DcmDataset* d = ff.getDataset();
  d->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
  d->putAndInsertString(DCM_PatientName, name.c_str());
  d->putAndInsertString(DCM_PatientID, id.c_str());
  d->putAndInsertString(DCM_IssuerOfPatientID, "GENHOSP");
  d->putAndInsertString(DCM_PatientBirthDate, dob.c_str());
  d->putAndInsertString(DCM_PatientSex, sex.c_str());
  d->putAndInsertString(DCM_AccessionNumber, accession.c_str());
  d->putAndInsertString(DCM_RequestedProcedureDescription, "Import outside CT");
  d->putAndInsertString(DCM_StudyInstanceUID, "1.2.826.0.1.3680043.10.1041.99.1");
  DcmItem* sps = nullptr;
  d->findOrCreateSequenceItem(DCM_ScheduledProcedureStepSequence, sps, 0);
  sps->putAndInsertString(DCM_ScheduledProcedureStepStartDate, date.c_str());
  sps->putAndInsertString(DCM_Modality, "CT");
  sps->putAndInsertString(DCM_ScheduledStationAETitle, "DISCBRIDGE");
  ASSERT_TRUE(ff.saveFile(file.c_str(), EXS_LittleEndianExplicit).good());
}

TEST_F(MatchTest, WorklistBackendAgainstRealOrthanc) {
  if (!OrthancServer::available()) GTEST_SKIP() << "Orthanc is not installed";
  OrthancServer::Options options;
  options.worklists = true;
  options.aet = "WORKLIST";
  OrthancServer orthanc(home_ / "orthanc", options);
  std::string err;
  ASSERT_TRUE(orthanc.start(err)) << err;
  writeWorklistItem(orthanc.worklistDir() / "jane.wl", "Doe^Jane", "100001", "19700101", "F", "LOCAL777", today());
  writeWorklistItem(orthanc.worklistDir() / "john.wl", "Doe^John", "100002", "19700101", "M", "LOCAL778", today());
  writeWorklistItem(orthanc.worklistDir() / "old.wl", "Doe^Jane", "100001", "19700101", "F", "OLD1", "20200101");
  std::string cfg = write("worklist.toml", "[mpi]\nbackend = \"worklist\"\n[worklist]\nhost = \"127.0.0.1\"\nport = " +
                                               std::to_string(orthanc.dicomPort) +
                                               "\ncalled_ae = \"WORKLIST\"\ntimeout_seconds = 5\n");
  auto r = cli({"--config", cfg, "match", disc("good.iso"), "--json"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.json["directory"], "worklist");
  const auto& cands = r.json["patients"][0]["candidates"];
  ASSERT_FALSE(cands.empty()) << r.out;
  EXPECT_EQ(cands[0]["mrn"], "100001");
  EXPECT_EQ(cands[0]["accession_number"], "LOCAL777");  // today's order, not the old one
  for (const auto& c : cands) EXPECT_NE(c["accession_number"], "OLD1");
  auto s = cli({"--config", cfg, "mpi", "search", "Doe^John", "--json"});
  ASSERT_EQ(s.status, 0);
  ASSERT_FALSE(s.json["candidates"].empty());
  EXPECT_EQ(s.json["candidates"][0]["mrn"], "100002");
  orthanc.stop();
  // The worklist gone: a clear error, not a crash.
  auto down = cli({"--config", cfg, "match", disc("good.iso"), "--json"});
  EXPECT_EQ(down.status, 1);
}

}  // namespace
}  // namespace discbridge::test
