// A real audit record repository for tests: Debian's rsyslogd in the
// foreground, receiving syslog over TLS (RFC 5425, gtls) on a free loopback
// port and writing what it receives to received.log.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "orthanc_server.h"  // freePort, portOpen
#include "test_certificates.h"

namespace discbridge::test {

class RsyslogServer {
 public:
  explicit RsyslogServer(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~RsyslogServer() { stop(); }
  RsyslogServer(const RsyslogServer&) = delete;
  RsyslogServer& operator=(const RsyslogServer&) = delete;

  static bool available() {
    return ::access("/usr/sbin/rsyslogd", X_OK) == 0 &&
           std::filesystem::exists("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so");
  }

  bool start(std::string& error) {
    if (port == 0) {
      if (!makeTestCertificates(dir_)) {
        error = "openssl could not make the test certificates";
        return false;
      }
      port = freePort();
      const std::string d = dir_.string();
      std::ofstream(dir_ / "rsyslog.conf")
          << "global(maxMessageSize=\"65536\" workDirectory=\"" << d << "\" DefaultNetstreamDriver=\"gtls\"\n"
          << "  DefaultNetstreamDriverCAFile=\"" << d << "/ca.pem\" DefaultNetstreamDriverCertFile=\"" << d
          << "/srv.pem\" DefaultNetstreamDriverKeyFile=\"" << d << "/srv.key\")\n"
          << "module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")\n"
          << "input(type=\"imtcp\" port=\"" << port << "\")\n"
          << "*.* action(type=\"omfile\" file=\"" << d << "/received.log\" template=\"RSYSLOG_SyslogProtocol23Format\")\n";
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string conf = (dir_ / "rsyslog.conf").string(), pid = (dir_ / "rsyslog.pid").string();
      const std::string log = (dir_ / "rsyslog.out").string();
      FILE* out = std::freopen(log.c_str(), "a", stdout);
      (void)out;
      ::dup2(STDOUT_FILENO, STDERR_FILENO);
      ::execl("/usr/sbin/rsyslogd", "rsyslogd", "-n", "-f", conf.c_str(), "-i", pid.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 100; ++i) {
      if (portOpen(port)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    error = "rsyslogd did not start, see " + (dir_ / "rsyslog.out").string();
    stop();
    return false;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string received() const {
    std::ifstream in(dir_ / "received.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  int port = 0;
  std::filesystem::path caFile() const { return dir_ / "ca.pem"; }
  std::filesystem::path otherCaFile() const { return dir_ / "other.pem"; }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

}  // namespace discbridge::test
