// Matching benchmark: a synthetic directory of N patients (default 1,000,000)
// in the embedded SQLite index, then 1,000 query patients of mixed difficulty
// (exact, diacritics, transposed date, swapped names, one digit off, no match).
// Prints p50/p95/max time per query (candidate search + ranking), how often
// the true patient is ranked first, and any false candidate scored strong.
//   bench_match DB_PATH [N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "discbridge/reconcile/matcher.h"
#include "discbridge/reconcile/sqlite_directory.h"

using namespace discbridge::reconcile;

namespace {

const char* kSyllables[] = {"ber", "man", "son", "ler", "mül", "sch", "wal", "ter", "ros", "kin", "dor", "fel",
                            "gan", "hol", "lin", "mar", "nor", "pet", "ric", "sel", "tho", "van", "wes", "zim",
                            "bra", "cor", "del", "ern", "fra", "gri", "hen", "jon", "kö", "lau", "mei", "nie"};
const char* kGiven[] = {"Anna", "Maria", "John", "James", "Mary", "Robert", "Linda", "Michael", "Sarah", "David",
                        "Laura", "Thomas", "Julia", "Peter", "Eva", "Paul", "Sophie", "Lukas", "Emma", "Jonas",
                        "Lena", "Felix", "Hannah", "Max", "Zoë", "Jürgen", "Chloé", "Renée", "Noah", "Mia",
                        "Elias", "Lea", "Ben", "Clara", "Finn", "Ida", "Leon", "Marie", "Tim", "Nora"};

std::string familyName(std::mt19937_64& rng) {
  // Zipf-like: a few very common names, a long tail.
  std::uniform_int_distribution<int> parts(2, 3);
  std::geometric_distribution<int> pick(0.08);
  std::string n;
  int k = parts(rng);
  for (int i = 0; i < k; ++i) n += kSyllables[std::min<int>(pick(rng), 35)];
  n[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(n[0])));
  return n;
}

std::string date(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> y(1930, 2020), m(1, 12), d(1, 28);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d%02d%02d", y(rng), m(rng), d(rng));
  return buf;
}

// Replaces ü/ö with their transliterations, or the reverse.
std::string transliterate(const std::string& s) {
  std::string out = s;
  for (auto [from, to] : {std::pair<const char*, const char*>{"\xc3\xbc", "ue"}, {"\xc3\xb6", "oe"}, {"\xc3\xab", "e"},
                          {"\xc3\xa9", "e"}}) {
    for (std::size_t p = out.find(from); p != std::string::npos; p = out.find(from)) out.replace(p, 2, to);
  }
  if (out == s) {
    // No umlaut to write out: put an accent on the first plain vowel instead
    // and upper-case the whole name, as some burners do.
    const char* accented[] = {"\xc3\xa1", "\xc3\xa9", "\xc3\xb3", "\xc3\xba"};  // á é ó ú
    const std::string vowels = "aeou";
    auto p = out.find_first_of(vowels);
    if (p != std::string::npos) out.replace(p, 1, accented[vowels.find(out[p])]);
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_match DB_PATH [N]\n");
    return 2;
  }
  std::string path = argv[1];
  std::size_t n = argc > 2 ? std::stoul(argv[2]) : 1'000'000;
  std::mt19937_64 rng(42);
  bool fresh = !std::filesystem::exists(path);
  auto db = SqliteDirectory::open(path);
  if (!db) {
    std::fprintf(stderr, "%s\n", db.error().message.c_str());
    return 1;
  }
  std::vector<LocalPatient> people;
  people.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    LocalPatient p;
    p.mrn = std::to_string(1'000'000 + i);
    p.issuer = "GENHOSP";
    p.name.family = familyName(rng);
    p.name.given = kGiven[std::uniform_int_distribution<int>(0, 39)(rng)];
    p.birthDate = date(rng);
    p.sex = (i % 2) ? "M" : "F";
    people.push_back(std::move(p));
  }
  if (fresh) {
    auto t0 = std::chrono::steady_clock::now();
    ImportReport rep;
    for (std::size_t i = 0; i < n; i += 50'000) {
      std::vector<LocalPatient> batch(people.begin() + static_cast<long>(i),
                                      people.begin() + static_cast<long>(std::min(n, i + 50'000)));
      if (auto r = (*db)->upsert(batch, rep); !r) {
        std::fprintf(stderr, "%s\n", r.error().message.c_str());
        return 1;
      }
    }
    std::printf("built a directory of %zu patients in %.1f s\n", n,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("directory: %zu patients (%s)\n", static_cast<std::size_t>(*(*db)->count()), path.c_str());

  const char* kinds[] = {"exact", "diacritics", "transposed date", "swapped names", "one digit off", "no match"};
  struct Stat {
    std::size_t total = 0, first = 0, strongTrue = 0;
  };
  Stat stats[6];
  std::vector<double> ms;
  std::size_t falseStrong = 0, indistinguishable = 0, withTruth = 0, firstTotal = 0;
  MatchThresholds t;
  std::uniform_int_distribution<std::size_t> anyone(0, n - 1);
  for (int q = 0; q < 1000; ++q) {
    int kind = q % 6;
    const LocalPatient* truth = &people[anyone(rng)];
    if (kind == 2) {  // needs a date whose day can be a month
      while (std::stoi(truth->birthDate.substr(6, 2)) > 12 || truth->birthDate.substr(4, 2) == truth->birthDate.substr(6, 2))
        truth = &people[anyone(rng)];
    }
    DiscPatient disc{"EXT" + std::to_string(q), "OUTSIDE", truth->name.family + "^" + truth->name.given,
                     truth->birthDate, truth->sex};
    switch (kind) {
      case 1: disc.name = transliterate(truth->name.family) + "^" + transliterate(truth->name.given); break;
      case 2: disc.birthDate = truth->birthDate.substr(0, 4) + truth->birthDate.substr(6, 2) + truth->birthDate.substr(4, 2); break;
      case 3: disc.name = truth->name.given + "^" + truth->name.family; break;
      case 4: disc.birthDate[7] = disc.birthDate[7] == '9' ? '8' : static_cast<char>(disc.birthDate[7] + 1); break;
      case 5: disc = {"EXTX", "OUTSIDE", "Qwyxz^Ypsilon", "18991231", "F"}; truth = nullptr; break;
      default: break;
    }
    auto t0 = std::chrono::steady_clock::now();
    auto found = (*db)->candidates(queryFor(disc));
    auto ranked = rank(disc, *found, t);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    auto& s = stats[kind];
    ++s.total;
    if (truth != nullptr) {
      ++withTruth;
      if (!ranked.empty() && ranked[0].patient.mrn == truth->mrn) {
        ++s.first;
        ++firstTotal;
      } else {
        std::string rankOf = "not found";
        for (std::size_t i = 0; i < ranked.size(); ++i) {
          if (ranked[i].patient.mrn == truth->mrn) rankOf = "ranked " + std::to_string(i + 1);
        }
        std::printf("miss (%s): disc %s %s; true %s %s %s; first %s %s %s\n", kinds[kind], disc.name.c_str(),
                    disc.birthDate.c_str(), truth->mrn.c_str(), truth->birthDate.c_str(), rankOf.c_str(),
                    ranked.empty() ? "-" : ranked[0].patient.mrn.c_str(),
                    ranked.empty() ? "-" : formatPersonName(ranked[0].patient.name).c_str(),
                    ranked.empty() ? "-" : ranked[0].patient.birthDate.c_str());
      }
    }
    for (const auto& c : ranked) {
      if (c.strength != Strength::Strong) continue;
      if (truth != nullptr && c.patient.mrn == truth->mrn) {
        ++s.strongTrue;
        continue;
      }
      // Another patient with the same name, birth date and sex is a genuine
      // ambiguity the staff must resolve, counted apart.
      bool same = truth != nullptr && nameKey(c.patient.name.family) == nameKey(truth->name.family) &&
                  nameKey(c.patient.name.given) == nameKey(truth->name.given) && c.patient.birthDate == truth->birthDate &&
                  c.patient.sex == truth->sex;
      (same ? indistinguishable : falseStrong)++;
    }
  }
  std::printf("\n%-16s %6s %14s %12s\n", "query kind", "count", "true first", "true strong");
  for (int k = 0; k < 6; ++k) {
    std::printf("%-16s %6zu %14zu %12zu\n", kinds[k], stats[k].total, stats[k].first, stats[k].strongTrue);
  }
  std::printf("\nper query (search + rank): p50 %.2f ms, p95 %.2f ms, max %.2f ms (target p95 < 20 ms)\n",
              percentile(ms, 0.5), percentile(ms, 0.95), percentile(ms, 1.0));
  std::printf("true patient ranked first: %zu of %zu = %.1f%% (target >= 99%%)\n", firstTotal, withTruth,
              100.0 * static_cast<double>(firstTotal) / static_cast<double>(withTruth));
  std::printf("false candidates scored strong: %zu (target 0); indistinguishable namesakes scored strong: %zu\n",
              falseStrong, indistinguishable);
  return 0;
}
