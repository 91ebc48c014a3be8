#include "discbridge/uplink/syslog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace discbridge::uplink {
namespace {

struct CtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
};

std::string sslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "connection closed";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

bool isIpAddress(const std::string& host) {
  in6_addr a6{};
  in_addr a4{};
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// Printable US-ASCII without spaces, as RFC 5424 wants its header fields.
std::string headerField(const std::string& s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out.push_back(c > 32 && c < 127 ? c : '_');
  return out.empty() ? "-" : out;
}

}  // namespace

Result<SyslogTarget> parseSyslogUrl(const std::string& url) {
  const std::string scheme = "tls://";
  if (url.rfind(scheme, 0) != 0) return makeError("CONFIG_INVALID", "audit syslog must be tls://host[:port], not '" + url + "'");
  SyslogTarget t;
  std::string rest = url.substr(scheme.size());
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && rest.find(']') == std::string::npos && rest.find(':') == colon) {
    try {
      t.port = std::stoi(rest.substr(colon + 1));
    } catch (...) {
      t.port = 0;
    }
    rest = rest.substr(0, colon);
  }
  t.host = rest;
  if (t.host.empty() || t.port < 1 || t.port > 65535) return makeError("CONFIG_INVALID", "bad syslog URL '" + url + "'");
  return t;
}

std::string syslogRecord(const std::string& timestamp, const std::string& hostName, const std::string& appName,
                         const std::string& msgId, const std::string& message, bool failure) {
  const int pri = 10 * 8 + (failure ? 4 : 5);
  return "<" + std::to_string(pri) + ">1 " + headerField(timestamp, 64) + " " + headerField(hostName, 255) + " " +
         headerField(appName, 48) + " " + std::to_string(::getpid()) + " " + headerField(msgId, 32) + " - " + message;
}

struct SyslogTlsClient::Impl {
  SyslogTarget target;
  std::unique_ptr<SSL_CTX, CtxDeleter> ctx;
  std::unique_ptr<SSL, SslDeleter> ssl;
  int fd = -1;

  void close() {
    if (ssl) SSL_shutdown(ssl.get());
    ssl.reset();
    if (fd >= 0) ::close(fd);
    fd = -1;
  }

  Result<void> connectTcp() {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(target.host.c_str(), std::to_string(target.port).c_str(), &hints, &res) != 0 || res == nullptr) {
      return makeError("SYSLOG_UNREACHABLE", "cannot resolve " + target.host, true);
    }
    std::string why = "no address";
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      int s = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (s < 0) continue;
      int flags = fcntl(s, F_GETFL, 0);
      fcntl(s, F_SETFL, flags | O_NONBLOCK);
      int rc = ::connect(s, a->ai_addr, a->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{s, POLLOUT, 0};
        int err = 0;
        socklen_t len = sizeof err;
        if (::poll(&p, 1, target.timeoutSeconds * 1000) == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
            err == 0) {
          rc = 0;
        } else {
          why = err != 0 ? std::strerror(err) : "timed out";
        }
      } else if (rc != 0) {
        why = std::strerror(errno);
      }
      if (rc == 0) {
        fcntl(s, F_SETFL, flags);
        timeval tv{target.timeoutSeconds, 0};
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        fd = s;
        break;
      }
      ::close(s);
    }
    freeaddrinfo(res);
    if (fd < 0) {
      return makeError("SYSLOG_UNREACHABLE",
                       "audit collector " + target.host + ":" + std::to_string(target.port) + ": " + why, true);
    }
    return {};
  }

  // The collector never writes to us: anything readable on the socket is
  // its close, and a batch written after that would be lost without error.
  bool peerGone() const {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) != 0;
  }

  Result<void> open() {
    if (ssl && peerGone()) close();
    if (ssl) return {};
    if (!ctx) {
      ctx.reset(SSL_CTX_new(TLS_client_method()));
      if (!ctx) return makeError("SYSLOG_TLS", "cannot set up TLS: " + sslError());
      SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
      bool loaded = target.caFile.empty() ? SSL_CTX_set_default_verify_paths(ctx.get()) == 1
                                          : SSL_CTX_load_verify_locations(ctx.get(), target.caFile.c_str(), nullptr) == 1;
      if (!loaded) {
        ctx.reset();
        return makeError("SYSLOG_TLS", "cannot read the CA file '" + target.caFile + "'");
      }
      if (!target.certFile.empty() &&
          (SSL_CTX_use_certificate_chain_file(ctx.get(), target.certFile.c_str()) != 1 ||
           SSL_CTX_use_PrivateKey_file(ctx.get(), target.keyFile.c_str(), SSL_FILETYPE_PEM) != 1)) {
        ctx.reset();
        return makeError("SYSLOG_TLS", "cannot read the client certificate or key");
      }
    }
    if (auto r = connectTcp(); !r) return r;
    ssl.reset(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd);
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    if (isIpAddress(target.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, target.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, target.host.c_str(), 0);
      SSL_set_tlsext_host_name(ssl.get(), target.host.c_str());
    }
    if (SSL_connect(ssl.get()) != 1) {
      long verify = SSL_get_verify_result(ssl.get());
      std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : sslError();
      close();
      if (verify != X509_V_OK) return makeError("SYSLOG_TLS_VERIFY", "audit collector certificate: " + why);
      return makeError("SYSLOG_TLS", "TLS with the audit collector failed: " + why, true);
    }
    return {};
  }
};

SyslogTlsClient::SyslogTlsClient(SyslogTarget target) : impl_(std::make_unique<Impl>()) {
  impl_->target = std::move(target);
}

SyslogTlsClient::~SyslogTlsClient() { impl_->close(); }

Result<void> SyslogTlsClient::send(const std::vector<std::string>& records) {
  // A connection the collector dropped since the last batch shows only on
  // write: one reconnect, then the error stands.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto r = impl_->open(); !r) return r;
    std::string frames;
    for (const auto& rec : records) frames += std::to_string(rec.size()) + " " + rec;
    bool ok = true;
    std::size_t off = 0;
    // A write to a closed connection raises SIGPIPE, which would end the
    // kiosk: blocked on this thread for the write, and any pending one taken.
    sigset_t pipe, old;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old);
    while (off < frames.size()) {
      int n = SSL_write(impl_->ssl.get(), frames.data() + off, static_cast<int>(std::min<std::size_t>(frames.size() - off, 1 << 20)));
      if (n <= 0) {
        ok = false;
        break;
      }
      off += static_cast<std::size_t>(n);
    }
    timespec zero{0, 0};
    while (sigtimedwait(&pipe, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (ok) return {};
    impl_->close();
    if (off > 0) break;  // part of the batch went: resending is the caller's decision
  }
  return makeError("SYSLOG_WRITE", "the audit collector closed the connection", true);
}

}  // namespace discbridge::uplink
