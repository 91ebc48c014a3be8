// Real files written by others (../shared/corpus, pydicom's test data), read
// in place: the file-set's counts, the DICOMDIR variants, and no crash or hang.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "cli_runner.h"

namespace discbridge::test {
namespace {

namespace fs = std::filesystem;

fs::path corpus() { return env("DISCBRIDGE_CORPUS"); }

#define REQUIRE_CORPUS()                                                               \
  if (env("DISCBRIDGE_CORPUS").empty() || !fs::is_directory(corpus())) {               \
    GTEST_SKIP() << "shared corpus not found (" << corpus() << "); corpus tests skipped"; \
  }

struct Counts {
  std::size_t studies = 0, series = 0, instances = 0;
};

Counts countFor(const nlohmann::json& j, const std::string& patientId) {
  Counts c;
  for (const auto& p : j["patients"]) {
    if (p["patient_id"] != patientId) continue;
    for (const auto& s : p["studies"]) {
      ++c.studies;
      for (const auto& se : s["series"]) {
        ++c.series;
        c.instances += se["instance_count"].get<std::size_t>();
      }
    }
  }
  return c;
}

TEST(Corpus, DicomdirFileSetCounts) {
  REQUIRE_CORPUS();
  auto r = runCli({"scan", (corpus() / "pydicom-test-files/dicomdirtests").string(), "--json"});
  ASSERT_EQ(r.status, 0);
  // The root DICOMDIR: 2 patients, 6 studies, 13 series, 31 images.
  Counts a = countFor(r.json, "77654033");
  Counts b = countFor(r.json, "98890234");
  EXPECT_EQ(a.studies + b.studies, 6u);
  EXPECT_EQ(a.series + b.series, 13u);
  EXPECT_EQ(a.instances + b.instances, 31u);
  // TINY_ALPHA is a second file-set with its own DICOMDIR: 50 images, 1 patient.
  EXPECT_EQ(r.json["summary"]["instances"], 81);
  EXPECT_EQ(countCode(r.json, "DICOMDIR_MISSING_FILE"), 0u);
  EXPECT_EQ(countCode(r.json, "DICOMDIR_UNREFERENCED_FILE"), 0u);
  EXPECT_EQ(countCode(r.json, "DICOMDIR_RECORD_MISMATCH"), 0u);
}

// Each DICOMDIR variant becomes the DICOMDIR of an ISO image (built in the
// build tree from the corpus files, which stay untouched).
class DicomdirVariant : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(DicomdirVariant, ReadsAllThirtyOneImages) {
  REQUIRE_CORPUS();
  const auto& [variant, expected] = GetParam();
  fs::path dd = corpus() / "pydicom-test-files/dicomdirtests";
  fs::path iso = fs::path(env("DISCBRIDGE_FIXTURES")) / ("corpus_" + variant + ".iso");
  fs::remove(iso);
  std::string cmd = "xorriso -outdev stdio:" + quote(iso.string()) + " -map " + quote((dd / variant).string()) +
                    " /DICOMDIR";
  for (const char* d : {"77654033", "98892001", "98892003"}) {
    cmd += " -map " + quote((dd / d).string()) + " /" + d;
  }
  ASSERT_EQ(std::system((cmd + " >/dev/null 2>&1").c_str()), 0);
  auto r = runCli({"scan", iso.string(), "--json"});
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.json["summary"]["instances"], 31);
  EXPECT_EQ(countCode(r.json, "DICOMDIR_MISSING_FILE"), 0u);
  EXPECT_EQ(countCode(r.json, "DICOMDIR_UNREFERENCED_FILE"), 0u);
  EXPECT_EQ(countCode(r.json, "DICOMDIR_RECORD_MISMATCH"), 0u);
  std::string nonconformant;
  for (const auto& f : r.json["findings"])
    if (f["code"] == "DICOMDIR_NONCONFORMANT") nonconformant += f["message"].get<std::string>();
  if (expected.empty()) {
    EXPECT_TRUE(nonconformant.empty()) << nonconformant;
  } else {
    EXPECT_NE(nonconformant.find(expected), std::string::npos) << nonconformant;
  }
  fs::remove(iso);
}

INSTANTIATE_TEST_SUITE_P(
    Pydicom, DicomdirVariant,
    ::testing::Values(std::pair<std::string, std::string>{"DICOMDIR", ""},
                      std::pair<std::string, std::string>{"DICOMDIR-bigEnd", "Explicit VR Little Endian"},
                      std::pair<std::string, std::string>{"DICOMDIR-implicit", "Explicit VR Little Endian"},
                      std::pair<std::string, std::string>{"DICOMDIR-nooffset", "offset elements"},
                      std::pair<std::string, std::string>{"DICOMDIR-reordered", ""},
                      std::pair<std::string, std::string>{"DICOMDIR-nopatient", "unknown type"}),
    [](const auto& info) {
      std::string n = info.param.first;
      for (auto& c : n)
        if (c == '-') c = '_';
      return n;
    });

TEST(Corpus, EveryFileScansWithoutCrashOrHang) {
  REQUIRE_CORPUS();
  for (const char* dir : {"pydicom-test-files", "pydicom-charset-files"}) {
    auto r = runCli({"scan", (corpus() / dir).string(), "--json"});
    EXPECT_EQ(r.status, 0) << dir;
    ASSERT_FALSE(r.json.is_discarded()) << dir;
    EXPECT_GT(r.json["summary"]["instances"].get<int>(), 0);
    // The truncated files of the corpus are found as such.
    for (const char* truncated : {"MR_truncated.dcm", "rtplan_truncated.dcm"}) {
      bool found = false;
      for (const auto& f : r.json["findings"])
        found |= f["code"] == "CORRUPT_INSTANCE" && f["path"] == truncated;
      if (std::string(dir) == "pydicom-test-files") {
        EXPECT_TRUE(found) << truncated;
      }
    }
  }
}

TEST(Corpus, JapaneseAndKoreanNamesDecoded) {
  REQUIRE_CORPUS();
  auto r = runCli({"scan", (corpus() / "pydicom-charset-files").string(), "--json"});
  std::set<std::string> names;
  for (const auto& p : r.json["patients"]) names.insert(p["name"]);
  EXPECT_TRUE(names.count("Yamada^Tarou=\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e="
                          "\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0^\xe3\x81\x9f\xe3\x82\x8d\xe3\x81\x86"));
  EXPECT_TRUE(names.count("Hong^Gildong=\xe6\xb4\xaa^\xe5\x90\x89\xe6\xb4\x9e=\xed\x99\x8d^\xea\xb8\xb8\xeb\x8f\x99"));
}

}  // namespace
}  // namespace discbridge::test
