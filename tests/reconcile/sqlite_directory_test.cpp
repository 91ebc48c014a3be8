#include "discbridge/reconcile/coercion.h"
#include "discbridge/reconcile/sqlite_directory.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace discbridge::reconcile {
namespace {

namespace fs = std::filesystem;

class SqliteDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mpi_test_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto db = SqliteDirectory::open((dir_ / "mpi.sqlite").string());
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
  }
  void TearDown() override {
    db_.reset();
    fs::remove_all(dir_);
  }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return (dir_ / name).string();
  }
  std::vector<std::string> mrns(const DirectoryQuery& q) {
    auto c = db_->candidates(q);
    EXPECT_TRUE(c.ok());
    std::vector<std::string> out;
    for (const auto& p : *c) out.push_back(p.mrn);
    return out;
  }
  static bool has(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  }
  fs::path dir_;
  std::unique_ptr<SqliteDirectory> db_;
};

const char* kCsv =
    "mrn,issuer,family,given,middle,birth_date,sex,previous_names,other_ids\n"
    "1,H,Doe,Jane,,1970-01-01,F,Smith^Jane,\n"
    "2,H,M\xc3\xbcller,Anna,,19800214,F,,\n"
    "3,H,Roe,Richard,,19551212,M,,EXT9@OUT\n"
    "4,H,Brown,Charles,,19601203,M,,\n"
    "\"5\",H,\"O'Neil, Jr\",Pat,,19900101,O,,\n"
    "bad,\"unterminated\n"
    ",H,NoMrn,X,,19900101,F,,\n"
    "6,H,Bad,Date,,19901399,F,,\n"
    "7,H,,NoFamily,,19900101,F,,\n"
    "8,H,Bad,Sex,,19900101,Q,,\n"
    "9,H,Too,Many,,19900101,F,,,,,,\n";

TEST_F(SqliteDirectoryTest, CsvGoodLinesKeptBadLinesReported) {
  auto r = db_->importCsv(write("p.csv", kCsv), "");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->created, 5u);
  ASSERT_EQ(r->problems.size(), 6u);
  EXPECT_EQ(r->problems[0].line, 7u);
  EXPECT_NE(r->problems[0].message.find("quotes"), std::string::npos);
  EXPECT_EQ(r->problems[1].line, 8u);
  EXPECT_EQ(r->problems[5].line, 12u);
  EXPECT_EQ(*db_->count(), 5u);
  auto again = db_->importCsv(write("p.csv", kCsv), "");
  EXPECT_EQ(again->updated, 5u);
  EXPECT_EQ(*db_->count(), 5u);
  auto p5 = db_->find("5", "H");
  ASSERT_TRUE(p5.ok() && *p5);
  EXPECT_EQ((*p5)->name.family, "O'Neil, Jr");
}

TEST_F(SqliteDirectoryTest, CsvWithoutRequiredColumnsIsRefused) {
  auto r = db_->importCsv(write("h.csv", "id,name\n1,x\n"), "");
  EXPECT_FALSE(r.ok());
}

TEST_F(SqliteDirectoryTest, BlockingFindsVariants) {
  ASSERT_TRUE(db_->importCsv(write("p.csv", kCsv), "").ok());
  DirectoryQuery q;
  q.name = PersonName{"Mueller", "Anna", "", "", ""};
  EXPECT_TRUE(has(mrns(q), "2"));  // diacritics
  q.name = PersonName{"Jane", "Doe", "", "", ""};
  EXPECT_TRUE(has(mrns(q), "1"));  // swapped
  q.name = PersonName{"Smith", "Jane", "", "", ""};
  EXPECT_TRUE(has(mrns(q), "1"));  // previous name
  q = {};
  q.name = PersonName{"Braun", "Karl", "", "", ""};
  q.birthDate = "19600312";
  EXPECT_TRUE(has(mrns(q), "4"));  // transposed date, name spelt differently
  q = {};
  q.foreignId = "EXT9";
  q.foreignIssuer = "OUT";
  EXPECT_TRUE(has(mrns(q), "3"));  // known other ID
  q = {};
  q.name = PersonName{"", "", "", "", ""};
  EXPECT_TRUE(mrns(q).empty());  // an empty name blocks nothing
}

TEST_F(SqliteDirectoryTest, Hl7AdtCreatesUpdatesAndMerges) {
  std::string hl7 =
      "MSH|^~\\&|ADT|GEN|DB|GEN|202601010000||ADT^A01|1|P|2.5\r"
      "PID|1||700^^^GENHOSP^MR~X1^^^OTHER^PI||Doe^Jane^Q||19700101|F\r"
      "MSH|^~\\&|ADT|GEN|DB|GEN|202601010000||ADT^A04|2|P|2.5\r"
      "PID|1||701^^^GENHOSP^MR||Duplicate^Jane||19700101|F\r"
      "MSH|^~\\&|ADT|GEN|DB|GEN|202601010000||ADT^A08|3|P|2.5\r"
      "PID|1||700^^^GENHOSP^MR||Doe-Smith^Jane^Q~Doe^Jane||19700101|F\r"
      "MSH|^~\\&|ADT|GEN|DB|GEN|202601010000||ADT^A40|4|P|2.5\r"
      "PID|1||700^^^GENHOSP^MR||Doe-Smith^Jane||19700101|F\r"
      "MRG|701^^^GENHOSP^MR\r"
      "MSH|^~\\&|ADT|GEN|DB|GEN|202601010000||ADT^A01|5|P|2.5\r"
      "PID|1||||NoId^X||19700101|F\r"
      "garbage line\r"
      "MSH|^~\\&|ADT|GEN|DB|GEN|202601010000||ORU^R01|6|P|2.5\r"
      "PID|1||702^^^GENHOSP^MR||Lab^Result||19700101|F\r";
  auto r = db_->importHl7(write("adt.hl7", hl7), "");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->created, 2u);
  EXPECT_EQ(r->updated, 1u);
  EXPECT_EQ(r->merged, 1u);
  EXPECT_EQ(r->problems.size(), 3u);  // no ID, not ADT, the garbage segment
  auto p = db_->find("700", "GENHOSP");
  ASSERT_TRUE(p.ok() && *p);
  EXPECT_EQ((*p)->name.family, "Doe-Smith");
  ASSERT_EQ((*p)->previousNames.size(), 1u);
  // The retired MRN resolves to the survivor.
  auto retired = db_->find("701", "GENHOSP");
  ASSERT_TRUE(retired.ok() && *retired);
  EXPECT_EQ((*retired)->mrn, "700");
  EXPECT_EQ(*db_->count(), 1u);
}

TEST_F(SqliteDirectoryTest, MergeRefusesLoopsAndUnknowns) {
  ASSERT_TRUE(db_->importCsv(write("p.csv", kCsv), "").ok());
  EXPECT_TRUE(db_->merge("2", "1", "H").ok());
  EXPECT_FALSE(db_->merge("1", "2", "H").ok());  // would loop
  EXPECT_FALSE(db_->merge("404", "1", "H").ok());
  EXPECT_FALSE(db_->merge("3", "3", "H").ok());
}

TEST_F(SqliteDirectoryTest, PlanRefusesAnUnknownMrn) {
  ASSERT_TRUE(db_->importCsv(write("p.csv", kCsv), "").ok());
  CoercionSettings settings;
  auto ok = makePlan(*db_, "EXT1", "OUT", "1", "H", settings);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->local.name.family, "Doe");
  auto unknown = makePlan(*db_, "EXT1", "OUT", "404", "H", settings);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "UNKNOWN_MRN");
  settings.accession = AccessionPolicy::Replace;
  EXPECT_FALSE(makePlan(*db_, "EXT1", "OUT", "1", "H", settings).ok());
  EXPECT_TRUE(makePlan(*db_, "EXT1", "OUT", "1", "H", settings, "ACC1").ok());
}

}  // namespace
}  // namespace discbridge::reconcile
