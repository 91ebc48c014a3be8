// A real nginx in front of Orthanc's DICOMweb for component tests: TLS with a
// throwaway CA, a bearer-token location, an OAuth2 token endpoint, and a
// switchable 503 with Retry-After.
#pragma once

#include "test_certificates.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "orthanc_server.h"

namespace discbridge::test {

class NginxServer {
 public:
  NginxServer(std::filesystem::path dir, int upstreamHttpPort) : dir_(std::move(dir)), upstream_(upstreamHttpPort) {}
  ~NginxServer() { stop(); }

  static bool available() { return ::access("/usr/sbin/nginx", X_OK) == 0; }

  // Creates ca.pem, other.pem (an unrelated CA) and a server certificate for
  // localhost and 127.0.0.1.
  bool makeCertificates() { return makeTestCertificates(dir_); }

  bool start(std::string& error) {
    if (!makeCertificates()) {
      error = "openssl could not make the test certificates";
      return false;
    }
    std::filesystem::create_directories(dir_ / "tmp");
    port = freePort();
    std::string d = dir_.string();
    std::string up = "http://127.0.0.1:" + std::to_string(upstream_) + "/";
    std::ofstream(dir_ / "nginx.conf")
        << "daemon off;\nmaster_process off;\npid " << d << "/nginx.pid;\nerror_log " << d << "/error.log;\n"
        << "events { worker_connections 64; }\n"
        << "http {\n access_log off;\n client_max_body_size 0;\n"
        << " client_body_temp_path " << d << "/tmp/body; proxy_temp_path " << d << "/tmp/proxy;\n"
        << " fastcgi_temp_path " << d << "/tmp/fcgi; uwsgi_temp_path " << d << "/tmp/uwsgi; scgi_temp_path " << d
        << "/tmp/scgi;\n"
        << " server {\n  listen " << port << " ssl;\n  server_name localhost;\n"
        << "  ssl_certificate " << d << "/srv.pem;\n  ssl_certificate_key " << d << "/srv.key;\n"
        << "  ssl_protocols TLSv1.2 TLSv1.3;\n"
        // OAuth2 client credentials: client "kiosk", secret "s3cret".
        << "  location = /token {\n   if ($http_authorization != \"Basic a2lvc2s6czNjcmV0\") { return 401; }\n"
        << "   default_type application/json;\n"
        << "   return 200 '{\"access_token\":\"tok123\",\"expires_in\":3600,\"token_type\":\"Bearer\"}';\n  }\n"
        << "  location /bearer/ {\n   if ($http_authorization != \"Bearer tok123\") { return 401; }\n"
        << "   if (-f " << d << "/busy) { add_header Retry-After 1 always; return 503; }\n"
        << "   proxy_pass " << up << ";\n  }\n"
        // HTTP basic: user "kiosk", password "pw".
        << "  location /basic/ {\n   if ($http_authorization != \"Basic a2lvc2s6cHc=\") { return 401; }\n"
        << "   proxy_pass " << up << ";\n  }\n"
        << "  location / { proxy_pass " << up << "; }\n"
        << " }\n}\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string conf = (dir_ / "nginx.conf").string();
      std::freopen((dir_ / "stderr.log").c_str(), "w", stderr);
      ::execl("/usr/sbin/nginx", "nginx", "-c", conf.c_str(), "-p", d.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100; ++i) {
      if (portOpen(port)) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        error = "nginx exited at start; see " + (dir_ / "stderr.log").string();
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    error = "nginx did not open its port";
    return false;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  void setBusy(bool busy) {
    if (busy) {
      std::ofstream(dir_ / "busy") << "1";
    } else {
      std::filesystem::remove(dir_ / "busy");
    }
  }
  std::string caFile() const { return (dir_ / "ca.pem").string(); }
  std::string otherCaFile() const { return (dir_ / "other.pem").string(); }

  int port = 0;

 private:
  std::filesystem::path dir_;
  int upstream_;
  pid_t pid_ = -1;
};

}  // namespace discbridge::test
