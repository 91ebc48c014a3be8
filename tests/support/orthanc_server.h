// A real Orthanc (Debian's package) for component tests: its own folder, free
// loopback ports, optional plugins; started on construction, stopped on exit.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace discbridge::test {

inline int freePort() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

inline bool portOpen(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

class OrthancServer {
 public:
  struct Options {
    bool worklists = false;
    bool dicomweb = false;
    std::string aet = "ORTHANC";
    // Known modalities (AE, port on loopback): storage commitment reports go there.
    std::vector<std::pair<std::string, int>> modalities;
    // false: Orthanc refuses JPEG, JPEG lossless / JPEG-LS, RLE and deflated.
    bool acceptCompressed = true;
    bool checkCalledAet = false;
    // DICOM TLS: server certificate and key (PEM); empty: plain DICOM.
    std::string tlsCertificate, tlsPrivateKey;
  };

  OrthancServer(std::filesystem::path dir, Options options) : dir_(std::move(dir)), options_(std::move(options)) {}
  ~OrthancServer() { stop(); }
  OrthancServer(const OrthancServer&) = delete;
  OrthancServer& operator=(const OrthancServer&) = delete;

  static bool available() { return ::access("/usr/sbin/Orthanc", X_OK) == 0; }

  // Starts again on the same ports and storage (after stop()).
  bool restart(std::string& error) { return launch(error); }

  bool start(std::string& error) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "db");
    std::filesystem::create_directories(worklistDir());
    httpPort = freePort();
    dicomPort = freePort();
    std::string plugins;
    if (options_.worklists) plugins = "\"/usr/share/orthanc/plugins/libModalityWorklists.so\"";
    if (options_.dicomweb) {
      plugins += std::string(plugins.empty() ? "" : ", ") + "\"/usr/share/orthanc/plugins/libOrthancDicomWeb.so\"";
    }
    std::ofstream(dir_ / "orthanc.json")
        << "{ \"Name\": \"DISCBRIDGE_TEST\", \"StorageDirectory\": \"" << (dir_ / "db").string()
        << "\", \"IndexDirectory\": \"" << (dir_ / "db").string() << "\", \"HttpPort\": " << httpPort
        << ", \"DicomPort\": " << dicomPort << ", \"DicomAet\": \"" << options_.aet
        << "\", \"RemoteAccessAllowed\": false, \"AuthenticationEnabled\": false,"
        << " \"DicomAlwaysAllowEcho\": true, \"DicomAlwaysAllowFind\": true,"
        << " \"DicomAlwaysAllowFindWorklist\": true, \"DicomAlwaysAllowStore\": true,"
        << " \"Plugins\": [" << plugins << "], \"DicomWeb\": { \"Enable\": true, \"Root\": \"/dicom-web/\" },"
        << " \"Worklists\": { \"Enable\": " << (options_.worklists ? "true" : "false") << ", \"Database\": \""
        << worklistDir().string() << "\" }," << " \"JpegLosslessTransferSyntaxAccepted\": "
        << (options_.acceptCompressed ? "true" : "false") << ", \"JpegTransferSyntaxAccepted\": "
        << (options_.acceptCompressed ? "true" : "false") << ", \"RleTransferSyntaxAccepted\": "
        << (options_.acceptCompressed ? "true" : "false") << ", \"DeflatedTransferSyntaxAccepted\": "
        << (options_.acceptCompressed ? "true" : "false") << ", \"DicomCheckCalledAet\": "
        << (options_.checkCalledAet ? "true" : "false") << tlsJson() << ", \"DicomModalities\": {" << modalitiesJson()
        << "} }\n";
    return launch(error);
  }

  bool launch(std::string& error) {
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string log = (dir_ / "orthanc.log").string();
      FILE* f = std::freopen(log.c_str(), "w", stdout);
      (void)f;
      ::dup2(::fileno(stdout), 2);
      std::string cfg = (dir_ / "orthanc.json").string();
      ::execl("/usr/sbin/Orthanc", "Orthanc", cfg.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (portOpen(httpPort) && portOpen(dicomPort)) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        error = "Orthanc exited at start; see " + (dir_ / "orthanc.log").string();
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    error = "Orthanc did not open its ports within 30 s";
    stop();
    return false;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::filesystem::path worklistDir() const { return dir_ / "worklists"; }
  std::filesystem::path log() const { return dir_ / "orthanc.log"; }

  std::string tlsJson() const {
    if (options_.tlsCertificate.empty()) return "";
    return ", \"DicomTlsEnabled\": true, \"DicomTlsCertificate\": \"" + options_.tlsCertificate +
           "\", \"DicomTlsPrivateKey\": \"" + options_.tlsPrivateKey +
           "\", \"DicomTlsTrustedCertificates\": \"" + options_.tlsCertificate +
           "\", \"DicomTlsRemoteCertificateRequired\": false";
  }

  std::string modalitiesJson() const {
    std::string out;
    for (std::size_t i = 0; i < options_.modalities.size(); ++i) {
      const auto& [ae, port] = options_.modalities[i];
      out += (i ? ", " : "") + std::string("\"m") + std::to_string(i) + "\": [\"" + ae + "\", \"127.0.0.1\", " +
             std::to_string(port) + "]";
    }
    return out;
  }

  int httpPort = 0;
  int dicomPort = 0;

 private:
  std::filesystem::path dir_;
  Options options_;
  pid_t pid_ = -1;
};

}  // namespace discbridge::test
