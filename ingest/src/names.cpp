#include "discbridge/ingest/names.h"

#include <algorithm>
#include <cctype>

namespace discbridge::ingest {

std::string normaliseComponent(std::string_view name) {
  std::string out(name);
  // ISO 9660 file version: ";" followed by digits at the end.
  if (auto semi = out.rfind(';'); semi != std::string::npos) {
    bool digits = semi + 1 < out.size() &&
                  std::all_of(out.begin() + static_cast<std::ptrdiff_t>(semi) + 1, out.end(),
                              [](unsigned char c) { return std::isdigit(c) != 0; });
    if (digits || semi + 1 == out.size()) out.resize(semi);
  }
  while (!out.empty() && out.back() == '.' && out != "." && out != "..") out.pop_back();
  return out;
}

bool isSafeComponent(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  return name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

std::string matchKey(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find_first_of("/\\", start);
    if (end == std::string_view::npos) end = path.size();
    std::string comp = normaliseComponent(path.substr(start, end - start));
    if (!comp.empty()) {
      if (!out.empty()) out.push_back('/');
      for (unsigned char c : comp) out.push_back(static_cast<char>(std::toupper(c)));
    }
    start = end + 1;
  }
  return out;
}

std::optional<std::vector<std::string>> confineReference(const std::vector<std::string>& values) {
  std::vector<std::string> parts;
  for (const auto& value : values) {
    // A value may itself hold several components when a writer used '\' or '/'
    // inside one value instead of the multi-valued form.
    if (!value.empty() && (value.front() == '/' || value.front() == '\\')) return std::nullopt;
    std::size_t start = 0;
    while (start <= value.size()) {
      std::size_t end = value.find_first_of("/\\", start);
      if (end == std::string::npos) end = value.size();
      std::string comp = value.substr(start, end - start);
      // Trailing padding spaces are not part of a CS value.
      while (!comp.empty() && comp.back() == ' ') comp.pop_back();
      while (!comp.empty() && comp.front() == ' ') comp.erase(comp.begin());
      comp = normaliseComponent(comp);
      if (!isSafeComponent(comp)) return std::nullopt;
      if (comp.size() >= 2 && comp[1] == ':') return std::nullopt;  // C:, a drive
      parts.push_back(std::move(comp));
      start = end + 1;
    }
  }
  if (parts.empty()) return std::nullopt;
  return parts;
}

std::string parentOf(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

std::string baseName(std::string_view path) {
  auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace discbridge::ingest
