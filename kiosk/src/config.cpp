#include "discbridge/kiosk/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <unistd.h>

namespace discbridge::kiosk {
namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : nullptr;
}

std::string defaultDataDir(bool service) {
  if (service) return "/var/lib/discbridge";
  if (const char* xdg = env("XDG_DATA_HOME")) return std::string(xdg) + "/discbridge";
  if (const char* home = env("HOME")) return std::string(home) + "/.local/share/discbridge";
  return "/var/lib/discbridge";
}

template <class T>
Result<void> readNumber(const toml::table& t, std::string_view key, T& out, long long min, long long max) {
  auto node = t[key];
  if (!node) return {};
  auto v = node.value<long long>();
  if (!v || *v < min || *v > max) {
    return makeError("CONFIG_INVALID", std::string(key) + " must be a whole number from " + std::to_string(min) +
                                           " to " + std::to_string(max));
  }
  out = static_cast<T>(*v);
  return {};
}

template <class T>
Result<void> readString(const toml::table& t, std::string_view key, T& out, std::initializer_list<const char*> allowed = {}) {
  auto node = t[key];
  if (!node) return {};
  auto v = node.value<std::string>();
  if (!v) return makeError("CONFIG_INVALID", std::string(key) + " must be a string");
  if (allowed.size() > 0 && std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return *v == a; })) {
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    return makeError("CONFIG_INVALID", std::string(key) + " must be one of " + list);
  }
  out = *v;
  return {};
}

Result<void> readFraction(const toml::table& t, std::string_view key, double& out) {
  auto node = t[key];
  if (!node) return {};
  auto v = node.value<double>();
  if (!v || *v < 0 || *v > 1) return makeError("CONFIG_INVALID", std::string(key) + " must be a number from 0 to 1");
  out = *v;
  return {};
}

Result<void> readBool(const toml::table& t, std::string_view key, bool& out) {
  auto node = t[key];
  if (!node) return {};
  auto v = node.value<bool>();
  if (!v) return makeError("CONFIG_INVALID", std::string(key) + " must be true or false");
  out = *v;
  return {};
}

Result<void> readSections(const toml::table& root, Config& cfg) {
  auto section = [&](const char* name, auto&& fill) -> Result<void> {
    const toml::table* t = root[name].as_table();
    if (t == nullptr) return {};
    if (auto r = fill(*t); !r) return Error{r.error().code, std::string("[") + name + "] " + r.error().message, false};
    return {};
  };
  auto all = [](std::initializer_list<Result<void>> rs) -> Result<void> {
    for (const auto& r : rs) {
      if (!r) return r;
    }
    return {};
  };
  if (auto r = section("ingest", [&](const toml::table& t) {
        return all({readNumber(t, "in_memory_limit_mb", cfg.ingest.inMemoryLimitMb, 1, 4096),
                    readNumber(t, "read_ahead_mb", cfg.ingest.readAheadMb, 1, 4096),
                    readNumber(t, "read_retries", cfg.ingest.readRetries, 0, 20),
                    readNumber(t, "parser_threads", cfg.ingest.parserThreads, 0, 64)});
      });
      !r)
    return r;
  if (auto r = section("mpi", [&](const toml::table& t) {
        return all({readString(t, "backend", cfg.mpi.backend, {"sqlite", "worklist"}),
                    readString(t, "database", cfg.mpi.database), readString(t, "default_issuer", cfg.mpi.defaultIssuer)});
      });
      !r)
    return r;
  if (auto r = section("worklist", [&](const toml::table& t) {
        return all({readString(t, "host", cfg.worklist.host), readNumber(t, "port", cfg.worklist.port, 1, 65535),
                    readString(t, "called_ae", cfg.worklist.calledAe), readString(t, "calling_ae", cfg.worklist.callingAe),
                    readNumber(t, "timeout_seconds", cfg.worklist.timeoutSeconds, 1, 600),
                    readBool(t, "today_only", cfg.worklist.todayOnly)});
      });
      !r)
    return r;
  if (auto r = section("match", [&](const toml::table& t) {
        return all({readFraction(t, "strong", cfg.match.strong), readFraction(t, "possible", cfg.match.possible),
                    readFraction(t, "minimum", cfg.match.minimum),
                    readNumber(t, "max_candidates", cfg.match.maxCandidates, 1, 100)});
      });
      !r)
    return r;
  if (auto r = section("coercion", [&](const toml::table& t) {
        return all({readString(t, "accession_policy", cfg.coercion.accessionPolicy, {"keep", "clear", "replace"}),
                    readString(t, "modifying_system", cfg.coercion.modifyingSystem),
                    readString(t, "issuer_universal_id", cfg.coercion.issuerUniversalId),
                    readString(t, "issuer_universal_id_type", cfg.coercion.issuerUniversalIdType)});
      });
      !r)
    return r;
  if (auto r = section("delivery", [&](const toml::table& t) {
        return all({readString(t, "spool_dir", cfg.delivery.spoolDir), readString(t, "outbox_database", cfg.delivery.outboxDb),
                    readString(t, "ae_title", cfg.delivery.aeTitle),
                    readNumber(t, "listener_port", cfg.delivery.listenerPort, 1, 65535)});
      });
      !r)
    return r;
  if (auto r = section("kiosk", [&](const toml::table& t) -> Result<void> {
        auto read = all({readString(t, "watch_folder", cfg.kiosk.watchFolder), readBool(t, "watch_drives", cfg.kiosk.watchDrives),
                      readNumber(t, "poll_milliseconds", cfg.kiosk.pollMilliseconds, 100, 60000),
                      readNumber(t, "idle_seconds", cfg.kiosk.idleSeconds, 5, 3600),
                      readNumber(t, "receipt_seconds", cfg.kiosk.receiptSeconds, 3, 600),
                      readNumber(t, "staff_idle_seconds", cfg.kiosk.staffIdleSeconds, 10, 86400),
                      readNumber(t, "retention_days", cfg.kiosk.retentionDays, 1, 3650),
                      readString(t, "audit_file", cfg.kiosk.auditFile),
                      readString(t, "audit_source_id", cfg.kiosk.auditSourceId),
                      readString(t, "audit_syslog", cfg.kiosk.auditSyslog),
                      readString(t, "audit_ca_file", cfg.kiosk.auditCaFile),
                      readString(t, "audit_cert_file", cfg.kiosk.auditCertFile),
                      readString(t, "audit_key_file", cfg.kiosk.auditKeyFile)});
        if (!read) return read;
        if (!cfg.kiosk.auditSyslog.empty()) {
          if (auto u = uplink::parseSyslogUrl(cfg.kiosk.auditSyslog); !u) return u.error();
        }
        if (const toml::array* a = t["destinations"].as_array()) {
          for (const auto& n : *a) {
            auto v = n.value<std::string>();
            if (!v) return makeError("CONFIG_INVALID", "destinations must be a list of names");
            cfg.kiosk.destinations.push_back(*v);
          }
        }
        if (const toml::table* staff = t["staff"].as_table()) {
          for (const auto& [user, node] : *staff) {
            auto v = node.value<std::string>();
            if (!v || v->size() != 64) {
              return makeError("CONFIG_INVALID", "staff." + std::string(user.str()) +
                                                     " must be the SHA-256 (hex) of \"user:PIN\"");
            }
            cfg.kiosk.staffPins[std::string(user.str())] = *v;
          }
        }
        return {};
      });
      !r)
    return r;
  if (const toml::table* dests = root["destinations"].as_table()) {
    for (const auto& [key, node] : *dests) {
      const toml::table* t = node.as_table();
      std::string name(key.str());
      if (t == nullptr) return makeError("CONFIG_INVALID", "[destinations." + name + "] must be a table");
      std::string type = "dicom";
      uplink::PacsDestination d;
      d.name = name;
      d.callingAe.clear();
      auto r = all({readString(*t, "type", type, {"dicom", "dicomweb"}), readString(*t, "host", d.host),
                    readNumber(*t, "port", d.port, 1, 65535), readString(*t, "called_ae", d.calledAe),
                    readString(*t, "calling_ae", d.callingAe), readBool(*t, "tls", d.tls),
                    readString(*t, "ca_file", d.caFile), readString(*t, "cert_file", d.certFile),
                    readString(*t, "key_file", d.keyFile), readNumber(*t, "timeout_seconds", d.timeoutSeconds, 1, 3600),
                    readNumber(*t, "associations", d.associations, 1, 16),
                    readBool(*t, "storage_commitment", d.storageCommitment),
                    readBool(*t, "commitment_on_association", d.commitmentOnAssociation),
                    readNumber(*t, "commit_timeout_seconds", d.commitTimeoutSeconds, 1, 86400),
                    readNumber(*t, "max_attempts", d.maxAttempts, 1, 1000), readBool(*t, "tcp_nodelay", d.tcpNoDelay),
                    readBool(*t, "tcp_quickack", d.tcpQuickAck)});
      if (!r) return Error{r.error().code, "[destinations." + name + "] " + r.error().message, false};
      if (type == "dicom") {
        cfg.delivery.pacs[name] = d;
      } else {
        uplink::CloudDestination c;
        c.name = name;
        int batchMb = 12;
        int batchInstances = 50;
        int timeout = 120;
        auto rc = all({readString(*t, "url", c.baseUrl), readString(*t, "auth", c.auth, {"none", "basic", "bearer", "oauth2"}),
                       readString(*t, "user", c.user), readString(*t, "password", c.password),
                       readString(*t, "token", c.token), readString(*t, "token_url", c.tokenUrl),
                       readString(*t, "client_id", c.clientId), readString(*t, "client_secret", c.clientSecret),
                       readString(*t, "scope", c.scope), readString(*t, "ca_file", c.caFile),
                       readString(*t, "cert_file", c.certFile), readString(*t, "key_file", c.keyFile),
                       readNumber(*t, "batch_mb", batchMb, 1, 1024), readNumber(*t, "batch_instances", batchInstances, 1, 10000),
                       readNumber(*t, "timeout_seconds", timeout, 1, 3600), readBool(*t, "http2", c.http2),
                       readNumber(*t, "max_attempts", c.maxAttempts, 1, 1000),
                       readNumber(*t, "connections", c.connections, 1, 3)});
        if (!rc) return Error{rc.error().code, "[destinations." + name + "] " + rc.error().message, false};
        if (c.baseUrl.rfind("https://", 0) != 0 && c.baseUrl.rfind("http://", 0) != 0) {
          return makeError("CONFIG_INVALID", "[destinations." + name + "] url must be an http(s):// DICOMweb base URL");
        }
        c.batchBytes = static_cast<std::size_t>(batchMb) << 20;
        c.batchInstances = static_cast<std::size_t>(batchInstances);
        c.timeoutSeconds = timeout;
        cfg.delivery.cloud[name] = c;
      }
    }
  }
  if (!(cfg.match.minimum <= cfg.match.possible && cfg.match.possible <= cfg.match.strong)) {
    return makeError("CONFIG_INVALID", "[match] needs minimum <= possible <= strong");
  }
  return {};
}

}  // namespace

Result<Config> loadConfig(const ConfigSources& sources) {
  Config cfg;
  std::string file;
  bool required = true;
  if (sources.configFile) {
    file = *sources.configFile;
  } else if (const char* e = env("DISCBRIDGE_CONFIG")) {
    file = e;
  } else {
    file = "/etc/discbridge/discbridge.toml";
    required = false;
  }
  std::error_code ec;
  std::string fileDataDir;
  if (std::filesystem::exists(file, ec)) {
    toml::table root;
    try {
      root = toml::parse_file(file);
    } catch (const toml::parse_error& err) {
      return makeError("CONFIG_INVALID", file + ":" + std::to_string(err.source().begin.line) + ": " +
                                             std::string(err.description()));
    }
    cfg.configFile = file;
    if (auto v = root["data_dir"].value<std::string>()) fileDataDir = *v;
    if (auto v = root["log_level"].value<std::string>()) cfg.logLevel = *v;
    if (auto r = readSections(root, cfg); !r) return Error{r.error().code, file + ": " + r.error().message, false};
  } else if (required) {
    return makeError("CONFIG_NOT_FOUND", "configuration file " + file + " does not exist");
  }

  if (sources.dataDir) {
    cfg.dataDir = *sources.dataDir;
  } else if (const char* e = env("DISCBRIDGE_HOME")) {
    cfg.dataDir = e;
  } else if (!fileDataDir.empty()) {
    cfg.dataDir = fileDataDir;
  } else {
    cfg.dataDir = defaultDataDir(sources.service);
  }
  return cfg;
}

std::string Config::auditSourceId() const {
  if (!kiosk.auditSourceId.empty()) return kiosk.auditSourceId;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return delivery.aeTitle + "@" + (host[0] != '\0' ? host : "localhost");
}

Result<uplink::SyslogTarget> Config::auditTarget() const {
  auto t = uplink::parseSyslogUrl(kiosk.auditSyslog);
  if (!t) return t.error();
  t->caFile = kiosk.auditCaFile;
  t->certFile = kiosk.auditCertFile;
  t->keyFile = kiosk.auditKeyFile;
  return t;
}

Result<uplink::Destination> Config::destination(const std::string& nameOrUrl) const {
  uplink::Destination out;
  if (nameOrUrl.rfind("https://", 0) == 0 || nameOrUrl.rfind("http://", 0) == 0) {
    uplink::CloudDestination c;
    c.name = nameOrUrl;
    c.baseUrl = nameOrUrl;
    c.caFile = delivery.urlCaFile;
    if (!delivery.urlToken.empty()) {
      c.auth = "bearer";
      c.token = delivery.urlToken;
    } else if (!delivery.urlUser.empty()) {
      c.auth = "basic";
      auto colon = delivery.urlUser.find(':');
      c.user = delivery.urlUser.substr(0, colon);
      c.password = colon == std::string::npos ? "" : delivery.urlUser.substr(colon + 1);
    }
    out.cloud = c;
    return out;
  }
  uplink::PacsDestination d;
  if (nameOrUrl.rfind("dicom://", 0) == 0 || nameOrUrl.rfind("dicoms://", 0) == 0) {
    auto parsed = uplink::parseDicomUrl(nameOrUrl);
    if (!parsed) return parsed.error();
    d = *parsed;
  } else if (auto c = delivery.cloud.find(nameOrUrl); c != delivery.cloud.end()) {
    out.cloud = c->second;
    return out;
  } else {
    auto it = delivery.pacs.find(nameOrUrl);
    if (it == delivery.pacs.end()) {
      return makeError("UNKNOWN_DESTINATION", "no destination named '" + nameOrUrl +
                                                  "' in the configuration; give a dicom://AE@host:port or https:// URL");
    }
    d = it->second;
  }
  if (d.callingAe.empty()) d.callingAe = delivery.aeTitle;
  out.pacs = d;
  return out;
}

}  // namespace discbridge::kiosk
