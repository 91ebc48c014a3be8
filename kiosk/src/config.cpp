#include "discbridge/kiosk/config.h"

#include <toml++/toml.h>

#include <cstdlib>
#include <filesystem>

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
    if (const toml::table* ingest = root["ingest"].as_table()) {
      for (auto r : {readNumber(*ingest, "in_memory_limit_mb", cfg.ingest.inMemoryLimitMb, 1, 4096),
                     readNumber(*ingest, "read_ahead_mb", cfg.ingest.readAheadMb, 1, 4096),
                     readNumber(*ingest, "read_retries", cfg.ingest.readRetries, 0, 20),
                     readNumber(*ingest, "parser_threads", cfg.ingest.parserThreads, 0, 64)}) {
        if (!r) return Error{r.error().code, file + ": [ingest] " + r.error().message, false};
      }
    }
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

}  // namespace discbridge::kiosk
