// Import into a real Orthanc through the real binary: end to end with storage
// commitment, and the faults a kiosk meets (PACS down before and during a job,
// the process killed at random points, a refused transfer syntax, a wrong AE).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "cli_runner.h"
#include "../support/commitment_standin.h"
#include "../support/orthanc_server.h"
#include "../support/test_certificates.h"

namespace discbridge::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!OrthancServer::available()) GTEST_SKIP() << "Orthanc is not installed";
    home_ = fs::path(env("DISCBRIDGE_FIXTURES")) /
            ("import_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(home_);
    fs::create_directories(home_);
    listenPort_ = freePort();
    std::ofstream(home_ / "local.csv") << "mrn,issuer,family,given,birth_date,sex\n"
                                       << "100001,GENHOSP,Doe,Jane,19700101,F\n"
                                       << "100003,GENHOSP,Roe,Richard,19551212,M\n";
    ASSERT_EQ(cli({"mpi", "import", (home_ / "local.csv").string()}, false).status, 0);
  }
  void TearDown() override {
    orthanc_.reset();
    fs::remove_all(home_);
  }

  void startOrthanc(OrthancServer::Options o = {}) {
    o.modalities = {{"DISCBRIDGE", listenPort_}};
    orthanc_ = std::make_unique<OrthancServer>(home_ / "orthanc", o);
    std::string err;
    ASSERT_TRUE(orthanc_->start(err)) << err;
  }

  // The binary with this test's data directory and configuration.
  std::vector<std::string> base(const std::string& extraConfig = "") {
    std::ofstream(home_ / "discbridge.toml")
        << "[delivery]\nlistener_port = " << listenPort_ << "\n"
        << "[destinations.pacs]\nhost = \"127.0.0.1\"\nport = " << (orthanc_ ? orthanc_->dicomPort : 1)
        << "\ncalled_ae = \"ORTHANC\"\ntimeout_seconds = 5\ncommit_timeout_seconds = 10\n"
        << extraConfig;
    return {"--data-dir", home_.string(), "--config", (home_ / "discbridge.toml").string()};
  }
  CliResult cli(std::vector<std::string> args, bool json = true, const std::string& extra = "") {
    auto b = base(extra);
    args.insert(args.begin(), b.begin(), b.end());
    return runCli(args, json);
  }

  std::size_t instancesInOrthanc() {
    auto j = httpGet(orthanc_->httpPort, "/instances");
    return j.is_array() ? j.size() : 0;
  }

  nlohmann::json outboxJob() {
    auto s = cli({"outbox", "status", "--json"});
    return s.json["jobs"].empty() ? nlohmann::json() : s.json["jobs"].back();
  }

  std::int64_t count(const nlohmann::json& job, const std::string& state) {
    return job.is_object() && job["counts"].contains(state) ? job["counts"][state].get<std::int64_t>() : 0;
  }

  pid_t spawn(std::vector<std::string> args) {
    auto b = base();
    args.insert(args.begin(), b.begin(), b.end());
    std::string bin = env("DISCBRIDGE_BIN");
    pid_t pid = ::fork();
    if (pid == 0) {
      std::freopen("/dev/null", "w", stdout);
      std::freopen((home_ / "serve.log").c_str(), "a", stderr);
      std::vector<char*> argv{bin.data()};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
    return pid;
  }

  // Runs `serve` until the last job is settled or the deadline passes.
  bool serveUntilSettled(std::chrono::seconds deadline) {
    pid_t pid = spawn({"serve"});
    auto end = std::chrono::steady_clock::now() + deadline;
    bool settled = false;
    while (std::chrono::steady_clock::now() < end) {
      auto job = outboxJob();
      if (job.is_object() && count(job, "queued") + count(job, "sending") + count(job, "stored") == 0) {
        settled = true;
        break;
      }
      std::this_thread::sleep_for(300ms);
    }
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
    return settled;
  }

  fs::path home_;
  int listenPort_ = 0;
  std::unique_ptr<OrthancServer> orthanc_;
};

TEST_F(ImportTest, DiscArrivesOnceCoercedAndCommitted) {
  startOrthanc();
  auto r = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to", "pacs", "--wait", "--json"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(count(r.json, "committed"), 5);
  EXPECT_EQ(instancesInOrthanc(), 5u);
  auto ids = httpGet(orthanc_->httpPort, "/instances");
  for (const auto& id : ids) {
    auto tags = httpGet(orthanc_->httpPort, "/instances/" + id.get<std::string>() + "/tags?simplify");
    EXPECT_EQ(tags["PatientID"], "100001");
    EXPECT_EQ(tags["IssuerOfPatientID"], "GENHOSP");
    EXPECT_EQ(tags["PatientName"], "Doe^Jane");
    ASSERT_TRUE(tags.contains("OtherPatientIDsSequence"));
    EXPECT_EQ(tags["OtherPatientIDsSequence"][0]["PatientID"], "EXT123");
    ASSERT_TRUE(tags.contains("OriginalAttributesSequence"));
    EXPECT_EQ(tags["OriginalAttributesSequence"][0]["ReasonForTheAttributeModification"], "COERCE");
  }
  // Nothing left in the spool once the PACS has committed.
  std::size_t spooled = 0;
  for (const auto& e : fs::recursive_directory_iterator(home_ / "spool")) spooled += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(spooled, 0u);
  // The same disc again: recognised as present, nothing sent twice.
  auto again = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to", "pacs", "--wait", "--json"});
  ASSERT_EQ(again.status, 0);
  EXPECT_EQ(count(again.json, "present"), 5);
  EXPECT_EQ(instancesInOrthanc(), 5u);
}

TEST_F(ImportTest, UnconfirmedPatientsAndUnknownMrnsAreNotImported) {
  startOrthanc();
  auto r = cli({"import", disc("two_patients.iso"), "--patient", "EXT123=100001", "--to", "pacs", "--wait", "--json"});
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(instancesInOrthanc(), 5u);  // only the confirmed patient's study
  auto unknown = cli({"import", disc("good.iso"), "--patient", "EXT123=999999", "--to", "pacs", "--wait"}, false);
  EXPECT_EQ(unknown.status, 2);
  auto notOnDisc = cli({"import", disc("good.iso"), "--patient", "NOPE=100001", "--to", "pacs"}, false);
  EXPECT_EQ(notOnDisc.status, 2);
  auto badDest = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to", "nowhere"}, false);
  EXPECT_EQ(badDest.status, 2);
}

TEST_F(ImportTest, PacsDownBeforeTheJobThenBack) {
  startOrthanc();
  orthanc_->stop();
  auto r = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to", "pacs", "--queue-only", "--json"});
  ASSERT_EQ(r.status, 0) << r.out;
  pid_t serve = spawn({"serve"});
  std::this_thread::sleep_for(3s);  // a few refused attempts
  auto job = outboxJob();
  EXPECT_EQ(count(job, "committed"), 0);
  EXPECT_FALSE(job["errors"].empty());
  std::string err;
  ASSERT_TRUE(orthanc_->restart(err)) << err;
  auto end = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < end && count(outboxJob(), "committed") < 5) std::this_thread::sleep_for(300ms);
  ::kill(serve, SIGTERM);
  ::waitpid(serve, nullptr, 0);
  EXPECT_EQ(count(outboxJob(), "committed"), 5);
  EXPECT_EQ(instancesInOrthanc(), 5u);
}

TEST_F(ImportTest, PacsStoppedDuringTheJob) {
  startOrthanc();
  pid_t imp = spawn({"import", disc("series300"), "--patient", "EXT300=100001", "--to", "pacs", "--wait"});
  auto end = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < end && instancesInOrthanc() < 20) std::this_thread::sleep_for(20ms);
  orthanc_->stop();
  std::this_thread::sleep_for(2s);
  std::string err;
  ASSERT_TRUE(orthanc_->restart(err)) << err;
  int status = 0;
  ::waitpid(imp, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(instancesInOrthanc(), 300u);
  auto job = outboxJob();
  EXPECT_EQ(count(job, "committed") + count(job, "present"), 300);
}

TEST_F(ImportTest, KilledAtRandomPointsTwentyTimes) {
  startOrthanc();
  auto r = cli({"import", disc("series300"), "--patient", "EXT300=100001", "--to", "pacs", "--queue-only"}, false);
  ASSERT_EQ(r.status, 0) << r.out;
  std::mt19937 rng(20261204);
  std::uniform_int_distribution<int> ms(30, 400);
  for (int trial = 0; trial < 20; ++trial) {
    pid_t serve = spawn({"serve"});
    std::this_thread::sleep_for(std::chrono::milliseconds(ms(rng)));
    ::kill(serve, SIGKILL);
    ::waitpid(serve, nullptr, 0);
  }
  ASSERT_TRUE(serveUntilSettled(120s));
  auto job = outboxJob();
  EXPECT_EQ(count(job, "committed") + count(job, "present"), 300) << job.dump();
  EXPECT_EQ(count(job, "failed"), 0);
  EXPECT_EQ(instancesInOrthanc(), 300u);  // none missing; Orthanc keeps one per SOP Instance UID
  auto patients = httpGet(orthanc_->httpPort, "/patients?expand");
  ASSERT_EQ(patients.size(), 1u);
  EXPECT_EQ(patients[0]["MainDicomTags"]["PatientID"], "100001");
}

TEST_F(ImportTest, RefusedTransferSyntaxIsSentDecompressed) {
  OrthancServer::Options o;
  o.acceptCompressed = false;
  startOrthanc(o);
  // The transfer-syntax disc's patient is EXT123 (Doe^Jane).
  auto r = cli({"import", disc("transfer_syntaxes.iso"), "--patient", "EXT123=100001", "--to", "pacs", "--wait", "--json"});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(instancesInOrthanc(), 8u);
  for (const auto& id : httpGet(orthanc_->httpPort, "/instances")) {
    auto ts = httpGet(orthanc_->httpPort, "/instances/" + id.get<std::string>() + "/metadata?expand");
    std::string syntax = ts.value("TransferSyntax", "");
    EXPECT_TRUE(syntax == "1.2.840.10008.1.2.1" || syntax == "1.2.840.10008.1.2" || syntax == "1.2.840.10008.1.2.2")
        << syntax;
  }
}

TEST_F(ImportTest, WrongAeTitleIsAClearErrorAndTheJobIsKept) {
  OrthancServer::Options o;
  o.checkCalledAet = true;
  startOrthanc(o);
  auto wrong = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to",
                    "dicom://WRONG_AE@127.0.0.1:" + std::to_string(orthanc_->dicomPort), "--wait", "--json"},
                   true);
  EXPECT_NE(wrong.status, 0);
  auto job = outboxJob();
  ASSERT_TRUE(job.is_object());  // kept
  bool clear = false;
  for (const auto& e : job["errors"]) clear |= e.get<std::string>().find("AE title") != std::string::npos;
  EXPECT_TRUE(clear) << job.dump();
  EXPECT_EQ(count(job, "failed"), 5);
  EXPECT_EQ(instancesInOrthanc(), 0u);
  // With the right AE title the kept job goes through on retry.
  ASSERT_EQ(cli({"outbox", "retry", std::to_string(job["job"].get<int>())}, false).status, 0);
  EXPECT_TRUE(count(outboxJob(), "queued") == 5);
  // An operator gives up on it instead: spool gone, and an audit record that
  // names the local patient and the study.
  ASSERT_EQ(cli({"outbox", "purge", std::to_string(job["job"].get<int>())}, false).status, 0);
  EXPECT_TRUE(cli({"outbox", "status", "--json"}).json["jobs"].empty());
  EXPECT_FALSE(fs::exists(home_ / "spool" / std::to_string(job["job"].get<int>())));
  auto verify = cli({"audit", "verify", "--json"});
  ASSERT_EQ(verify.status, 0) << verify.out;
  EXPECT_TRUE(verify.json["intact"].get<bool>());
  EXPECT_EQ(verify.json["records"], 1);
  std::ifstream in(home_ / "audit.log");
  std::string trail((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(trail.find("csd-code=\\\"110105\\\""), std::string::npos) << trail;
  EXPECT_NE(trail.find("100001"), std::string::npos);
  EXPECT_NE(trail.find(job["study_instance_uids"][0].get<std::string>()), std::string::npos);
}

// A PACS that reports storage commitment on the storing association: the
// report is answered there and the rows become committed, with no report ever
// reaching our listener.
TEST_F(ImportTest, CommitmentReportedOnTheStoringAssociation) {
  const int port = freePort();
  CommitmentStandIn pacs(port);
  const std::string dest = "[destinations.standin]\nhost = \"127.0.0.1\"\nport = " + std::to_string(port) +
                           "\ncalled_ae = \"STANDIN\"\ncommitment_on_association = true\ntimeout_seconds = 5\n";
  auto r = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to", "standin", "--wait", "--json"}, true, dest);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(count(r.json, "committed"), 5);
  EXPECT_EQ(pacs.stored.load(), 5);
  EXPECT_GE(pacs.reports.load(), 1);
  EXPECT_EQ(pacs.reportsAnswered.load(), pacs.reports.load());
  EXPECT_EQ(pacs.actions.load(), pacs.reports.load());
}

void makeCertificates(const fs::path& dir) { ASSERT_TRUE(makeTestCertificates(dir)); }

TEST_F(ImportTest, DicomTlsWithVerificationAndAnUnknownCaRefused) {
  makeCertificates(home_ / "tls");
  OrthancServer::Options o;
  o.tlsCertificate = (home_ / "tls/srv.pem").string();
  o.tlsPrivateKey = (home_ / "tls/srv.key").string();
  startOrthanc(o);
  std::string good = "[destinations.secure]\nport = " + std::to_string(orthanc_->dicomPort) +
                     "\ncalled_ae = \"ORTHANC\"\ntls = true\nca_file = \"" + (home_ / "tls/ca.pem").string() + "\"\n";
  auto r = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to", "secure", "--wait", "--json"}, true, good);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(count(r.json, "committed"), 5);
  EXPECT_EQ(instancesInOrthanc(), 5u);
  // A CA that did not sign the server's certificate: refused, clearly, at once.
  std::string bad = "[destinations.secure]\nport = " + std::to_string(orthanc_->dicomPort) +
                    "\ncalled_ae = \"ORTHANC\"\ntls = true\nca_file = \"" + (home_ / "tls/other.pem").string() + "\"\n";
  auto refused = cli({"import", disc("two_patients.iso"), "--patient", "EXT999=100003", "--to", "secure", "--wait",
                      "--json"}, true, bad);
  EXPECT_NE(refused.status, 0);
  bool clear = false;
  for (const auto& e : refused.json["errors"]) clear |= e.get<std::string>().find("TLS") != std::string::npos;
  EXPECT_TRUE(clear) << refused.out;
  EXPECT_EQ(count(refused.json, "failed"), 5);
  EXPECT_EQ(instancesInOrthanc(), 5u);  // nothing of the second disc arrived
}

}  // namespace
}  // namespace discbridge::test
