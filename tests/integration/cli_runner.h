// Runs the real discbridge binary and parses what it prints.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>

namespace discbridge::test {

struct CliResult {
  int status = -1;
  std::string out;
  nlohmann::json json;
};

// Test settings: the environment, else what the build configured.
inline std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (v != nullptr && *v != '\0') return v;
  const std::string n = name;
  if (n == "DISCBRIDGE_BIN") return DISCBRIDGE_BIN_DEFAULT;
  if (n == "DISCBRIDGE_FIXTURES") return DISCBRIDGE_FIXTURES_DEFAULT;
  if (n == "DISCBRIDGE_CORPUS") return DISCBRIDGE_CORPUS_DEFAULT;
  return "";
}

inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// args are passed through the shell, each quoted.
inline CliResult runCli(const std::vector<std::string>& args, bool parseJson = true) {
  std::string cmd = quote(env("DISCBRIDGE_BIN"));
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " 2>/dev/null";
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[65536];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (parseJson && !r.out.empty()) r.json = nlohmann::json::parse(r.out, nullptr, false);
  return r;
}

// A generated fixture (disc image or folder) by name.
inline std::string disc(const std::string& name) { return env("DISCBRIDGE_FIXTURES") + "/" + name; }

// GET on a local HTTP server (Orthanc's REST API), parsed as JSON.
inline nlohmann::json httpGet(int port, const std::string& path) {
  FILE* p = popen(("curl -sf http://127.0.0.1:" + std::to_string(port) + path).c_str(), "r");
  std::string out;
  char buf[65536];
  std::size_t n = 0;
  while (p && (n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (p) pclose(p);
  return nlohmann::json::parse(out, nullptr, false);
}

inline std::size_t countCode(const nlohmann::json& report, const std::string& code) {
  std::size_t n = 0;
  for (const auto& f : report["findings"]) n += f["code"] == code ? 1 : 0;
  return n;
}

inline std::size_t countSeverity(const nlohmann::json& report, const std::string& severity) {
  std::size_t n = 0;
  for (const auto& f : report["findings"]) n += f["severity"] == severity ? 1 : 0;
  return n;
}

}  // namespace discbridge::test
