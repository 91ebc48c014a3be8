// Upload to a DICOMweb server through the real binary: Orthanc's DICOMweb
// plugin behind nginx with TLS (a throwaway CA), bearer tokens and an OAuth2
// token endpoint; and the faults: unknown CA, host-name mismatch, wrong
// credentials, 503 with Retry-After, the server stopped mid-job.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "cli_runner.h"
#include "../support/nginx_server.h"

namespace discbridge::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class CloudTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!OrthancServer::available() || !NginxServer::available()) GTEST_SKIP() << "Orthanc or nginx is not installed";
    home_ = fs::path(env("DISCBRIDGE_FIXTURES")) /
            ("cloud_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(home_);
    fs::create_directories(home_);
    OrthancServer::Options o;
    o.dicomweb = true;
    orthanc_ = std::make_unique<OrthancServer>(home_ / "orthanc", o);
    std::string err;
    ASSERT_TRUE(orthanc_->start(err)) << err;
    nginx_ = std::make_unique<NginxServer>(home_ / "nginx", orthanc_->httpPort);
    ASSERT_TRUE(nginx_->start(err)) << err;
    std::ofstream(home_ / "local.csv") << "mrn,issuer,family,given,birth_date,sex\n100001,GENHOSP,Doe,Jane,19700101,F\n";
    ASSERT_EQ(cli({"mpi", "import", (home_ / "local.csv").string()}, false).status, 0);
  }
  void TearDown() override {
    nginx_.reset();
    orthanc_.reset();
    fs::remove_all(home_);
  }
  CliResult cli(std::vector<std::string> args, bool json = true, const std::string& config = "") {
    std::ofstream(home_ / "discbridge.toml") << "[delivery]\nlistener_port = " << freePort() << "\n" << config;
    std::vector<std::string> b{"--data-dir", home_.string(), "--config", (home_ / "discbridge.toml").string()};
    args.insert(args.begin(), b.begin(), b.end());
    return runCli(args, json);
  }
  std::string url(const std::string& host = "127.0.0.1", const std::string& prefix = "/bearer") {
    return "https://" + host + ":" + std::to_string(nginx_->port) + prefix + "/dicom-web";
  }
  std::size_t instances() {
    auto j = httpGet(orthanc_->httpPort, "/instances");
    return j.is_array() ? j.size() : 0;
  }
  static std::int64_t count(const nlohmann::json& job, const std::string& state) {
    return job.is_object() && job["counts"].contains(state) ? job["counts"][state].get<std::int64_t>() : 0;
  }
  static bool errorMentions(const nlohmann::json& job, const std::string& what) {
    for (const auto& e : job["errors"]) {
      if (e.get<std::string>().find(what) != std::string::npos) return true;
    }
    return false;
  }
  fs::path home_;
  std::unique_ptr<OrthancServer> orthanc_;
  std::unique_ptr<NginxServer> nginx_;
};

TEST_F(CloudTest, BearerOverVerifiedTlsArrivesCoerced) {
  auto r = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to", url(), "--ca-file", nginx_->caFile(),
                "--token", "tok123", "--wait", "--json"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(count(r.json, "delivered"), 5);
  EXPECT_EQ(instances(), 5u);
  for (const auto& id : httpGet(orthanc_->httpPort, "/instances")) {
    auto tags = httpGet(orthanc_->httpPort, "/instances/" + id.get<std::string>() + "/tags?simplify");
    EXPECT_EQ(tags["PatientID"], "100001");
    EXPECT_EQ(tags["OtherPatientIDsSequence"][0]["PatientID"], "EXT123");
  }
}

TEST_F(CloudTest, OAuth2ClientCredentialsFromConfiguration) {
  std::string cfg = "[destinations.cloud]\ntype = \"dicomweb\"\nurl = \"" + url() + "\"\nauth = \"oauth2\"\n" +
                    "token_url = \"https://127.0.0.1:" + std::to_string(nginx_->port) + "/token\"\n" +
                    "client_id = \"kiosk\"\nclient_secret = \"s3cret\"\nca_file = \"" + nginx_->caFile() + "\"\n" +
                    "batch_instances = 2\n";
  auto r = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to", "cloud", "--wait", "--json"}, true, cfg);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(count(r.json, "delivered"), 5);
  EXPECT_EQ(instances(), 5u);
}

TEST_F(CloudTest, HttpBasicAuthentication) {
  auto r = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to", url("127.0.0.1", "/basic"), "--ca-file",
                nginx_->caFile(), "--user", "kiosk:pw", "--wait", "--json"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(count(r.json, "delivered"), 5);
  EXPECT_EQ(instances(), 5u);
}

TEST_F(CloudTest, UnknownCaAndHostNameMismatchAreRefused) {
  auto ca = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to", url(), "--ca-file",
                 nginx_->otherCaFile(), "--token", "tok123", "--wait", "--json"});
  EXPECT_NE(ca.status, 0);
  EXPECT_EQ(count(ca.json, "failed"), 5);
  EXPECT_TRUE(errorMentions(ca.json, "not trusted")) << ca.out;
  // The certificate names localhost and 127.0.0.1, not 127.0.0.2.
  auto host = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to", url("127.0.0.2"), "--ca-file",
                   nginx_->caFile(), "--token", "tok123", "--wait", "--json"});
  EXPECT_NE(host.status, 0);
  EXPECT_EQ(count(host.json, "failed"), 5);
  EXPECT_EQ(instances(), 0u);
}

TEST_F(CloudTest, WrongCredentialsFailClearly) {
  auto r = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to", url(), "--ca-file", nginx_->caFile(),
                "--token", "wrong", "--wait", "--json"});
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(count(r.json, "failed"), 5);
  EXPECT_TRUE(errorMentions(r.json, "credentials")) << r.out;
  EXPECT_EQ(instances(), 0u);
}

TEST_F(CloudTest, BusyServerWithRetryAfterIsWaitedFor) {
  nginx_->setBusy(true);
  std::thread clear([&] {
    std::this_thread::sleep_for(2500ms);
    nginx_->setBusy(false);
  });
  auto r = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to", url(), "--ca-file", nginx_->caFile(),
                "--token", "tok123", "--wait", "--json"});
  clear.join();
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(count(r.json, "delivered"), 5);
  EXPECT_EQ(instances(), 5u);
}

TEST_F(CloudTest, ServerDownThenBack) {
  // The DICOMweb server behind nginx goes away (nginx answers 502) and comes
  // back: the job completes, nothing lost, nothing twice.
  orthanc_->stop();
  auto queued = cli({"import", disc("good.iso"), "--patient", "EXT123=100001", "--to", url(), "--ca-file",
                     nginx_->caFile(), "--token", "tok123", "--queue-only", "--json"});
  ASSERT_EQ(queued.status, 0) << queued.out;
  std::string bin = env("DISCBRIDGE_BIN");
  std::string cfg = (home_ / "discbridge.toml").string();
  std::string data = home_.string();
  pid_t serve = ::fork();
  if (serve == 0) {
    std::freopen("/dev/null", "w", stdout);
    std::freopen((home_ / "serve.log").c_str(), "w", stderr);
    ::execl(bin.c_str(), bin.c_str(), "-v", "--data-dir", data.c_str(), "--config", cfg.c_str(), "serve",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(3s);  // refused attempts while the server is down
  std::string err;
  ASSERT_TRUE(orthanc_->restart(err)) << err;
  auto end = std::chrono::steady_clock::now() + 90s;
  while (std::chrono::steady_clock::now() < end && instances() < 5) std::this_thread::sleep_for(500ms);
  std::this_thread::sleep_for(1s);
  ::kill(serve, SIGTERM);
  ::waitpid(serve, nullptr, 0);
  EXPECT_EQ(instances(), 5u);
  auto status = cli({"outbox", "status", "--json"});
  EXPECT_EQ(count(status.json["jobs"].back(), "delivered"), 5) << status.out;
}

TEST_F(CloudTest, ServerStoppedMidUploadAndRestarted) {
  std::string bin = env("DISCBRIDGE_BIN");
  std::ofstream(home_ / "discbridge.toml") << "[delivery]\nlistener_port = " << freePort() << "\n";
  std::string cfg = (home_ / "discbridge.toml").string();
  std::string data = home_.string();
  std::string to = url();
  std::string ca = nginx_->caFile();
  std::string source = disc("series300");
  pid_t imp = ::fork();
  if (imp == 0) {
    std::freopen("/dev/null", "w", stdout);
    std::freopen((home_ / "import.log").c_str(), "w", stderr);
    ::execl(bin.c_str(), bin.c_str(), "--data-dir", data.c_str(), "--config", cfg.c_str(), "import", source.c_str(),
            "--patient", "EXT300=100001", "--to", to.c_str(), "--ca-file", ca.c_str(), "--token", "tok123", "--wait",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto end = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < end && instances() < 30) std::this_thread::sleep_for(20ms);
  orthanc_->stop();  // in the middle of a batch, as far as the client can tell
  std::this_thread::sleep_for(2s);
  std::string err;
  ASSERT_TRUE(orthanc_->restart(err)) << err;
  int status = 0;
  ::waitpid(imp, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(instances(), 300u);  // every instance, each once
  auto st = cli({"outbox", "status", "--json"});
  EXPECT_EQ(count(st.json["jobs"].back(), "delivered"), 300) << st.out;
}

}  // namespace
}  // namespace discbridge::test
