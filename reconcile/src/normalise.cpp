#include "discbridge/reconcile/normalise.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace discbridge::reconcile {
namespace {

// Decodes one UTF-8 code point; invalid bytes decode as themselves (Latin-1).
char32_t nextCodePoint(std::string_view s, std::size_t& i) {
  auto c = static_cast<unsigned char>(s[i]);
  int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || i + static_cast<std::size_t>(len) > s.size()) {
    ++i;
    return c;
  }
  char32_t cp = len == 1 ? c : (c & (0x7F >> len));
  for (int k = 1; k < len; ++k) {
    auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
    if ((cc & 0xC0) != 0x80) {
      ++i;
      return c;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  i += static_cast<std::size_t>(len);
  return cp;
}

// Latin letters with diacritics to their base letters (upper case).
const char* fold(char32_t cp) {
  if (cp < 0x80) return nullptr;
  switch (cp) {
    case 0xDF: return "SS";
    case 0xC6: case 0xE6: return "AE";
    case 0x152: case 0x153: return "OE";
    case 0xD8: case 0xF8: return "O";
    case 0xD0: case 0xF0: case 0x110: case 0x111: return "D";
    case 0xDE: case 0xFE: return "TH";
    case 0x141: case 0x142: return "L";
    case 0x131: return "I";
    default: break;
  }
  // Base letters of Latin-1 Supplement (C0-FF) and Latin Extended-A
  // (100-17F), '?' where a code point is no letter with a diacritic.
  static const char* table =
      "AAAAAA?CEEEEIIII?NOOOOO??UUUUY??AAAAAA?CEEEEIIII?NOOOOO??UUUUY?Y"
      "AAAAAACCCCCCCCDD??EEEEEEEEEEGGGGGGGGHH??IIIIIIIIII??JJKK?LLLLLL????NNNNNN???OOOOOO??RRRRRRSSSSSSSSTTTT??"
      "UUUUUUUUUUUUWWYYYZZZZZZS";
  static const char* letters[26] = {"A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M",
                                    "N", "O", "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z"};
  if (cp >= 0xC0 && cp <= 0x17F) {
    char c = table[cp - 0xC0];
    if (c >= 'A' && c <= 'Z') return letters[c - 'A'];
  }
  return nullptr;
}

}  // namespace

PersonName parsePersonName(std::string_view pn) {
  // Only the alphabetic group (before the first '=').
  auto eq = pn.find('=');
  if (eq != std::string_view::npos) pn = pn.substr(0, eq);
  PersonName out;
  std::string* parts[] = {&out.family, &out.given, &out.middle, &out.prefix, &out.suffix};
  std::size_t k = 0;
  for (char c : pn) {
    if (c == '^') {
      if (++k >= 5) break;
      continue;
    }
    parts[k]->push_back(c);
  }
  for (auto* p : parts) {
    while (!p->empty() && p->back() == ' ') p->pop_back();
    while (!p->empty() && p->front() == ' ') p->erase(p->begin());
  }
  // "Family, Given" written into one component by some systems.
  if (out.given.empty() && out.family.find(',') != std::string::npos) {
    auto comma = out.family.find(',');
    out.given = out.family.substr(comma + 1);
    out.family.resize(comma);
    while (!out.given.empty() && out.given.front() == ' ') out.given.erase(out.given.begin());
  }
  return out;
}

std::string formatPersonName(const PersonName& n) {
  std::string out = n.family + "^" + n.given + "^" + n.middle + "^" + n.prefix + "^" + n.suffix;
  while (!out.empty() && out.back() == '^') out.pop_back();
  return out;
}

std::string nameKey(std::string_view utf8) {
  std::string folded;
  folded.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    char32_t cp = nextCodePoint(utf8, i);
    if (cp < 0x80) {
      auto c = static_cast<unsigned char>(cp);
      if (std::isalpha(c)) folded.push_back(static_cast<char>(std::toupper(c)));
    } else if (const char* f = fold(cp)) {
      folded += f;
    }
  }
  // AE/OE/UE are the German transliterations of Ä/Ö/Ü.
  std::string out;
  out.reserve(folded.size());
  for (std::size_t i = 0; i < folded.size(); ++i) {
    out.push_back(folded[i]);
    char c = folded[i];
    if ((c == 'A' || c == 'O' || c == 'U') && i + 1 < folded.size() && folded[i + 1] == 'E') ++i;
  }
  return out;
}

std::string phoneticKey(std::string_view key) {
  if (key.empty()) return {};
  static const std::array<char, 26> code = {'0', '1', '2', '3', '0', '1', '2', '0', '0', '2', '2', '4', '5',
                                            '5', '0', '1', '2', '6', '2', '3', '0', '1', '0', '2', '0', '2'};
  std::string out(1, key[0]);
  char last = code[static_cast<std::size_t>(key[0] - 'A')];
  for (std::size_t i = 1; i < key.size() && out.size() < 4; ++i) {
    char c = key[i];
    if (c < 'A' || c > 'Z') continue;
    char d = code[static_cast<std::size_t>(c - 'A')];
    if (d != '0' && d != last) out.push_back(d);
    if (c != 'H' && c != 'W') last = d;
  }
  while (out.size() < 4) out.push_back('0');
  return out;
}

std::string normaliseDate(std::string_view date) {
  std::string digits;
  for (char c : date) {
    if (std::isdigit(static_cast<unsigned char>(c))) digits.push_back(c);
    else if (c != '-' && c != '.' && c != '/' && c != ' ') return {};
  }
  if (digits.size() != 8) return {};
  int y = std::stoi(digits.substr(0, 4));
  int m = std::stoi(digits.substr(4, 2));
  int d = std::stoi(digits.substr(6, 2));
  if (y < 1800 || y > 2200 || m < 1 || m > 12 || d < 1 || d > 31) return {};
  return digits;
}

std::string normaliseSex(std::string_view sex) {
  std::string s;
  for (char c : sex) {
    if (c != ' ') s.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (s == "M" || s == "MALE") return "M";
  if (s == "F" || s == "FEMALE" || s == "W") return "F";
  if (s == "O" || s == "OTHER" || s == "X") return "O";
  return {};
}

int editDistance(std::string_view a, std::string_view b, int cap) {
  const auto n = a.size();
  const auto m = b.size();
  if (static_cast<int>(n > m ? n - m : m - n) > cap) return cap + 1;
  std::vector<int> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (std::size_t j = 0; j <= m; ++j) prev[j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= n; ++i) {
    cur[0] = static_cast<int>(i);
    int rowMin = cur[0];
    for (std::size_t j = 1; j <= m; ++j) {
      int sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      // Two adjacent letters swapped count as one edit.
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      rowMin = std::min(rowMin, cur[j]);
    }
    if (rowMin > cap) return cap + 1;
    prev2.swap(prev);
    prev.swap(cur);
  }
  return std::min(prev[m], cap + 1);
}

}  // namespace discbridge::reconcile
