#include "discbridge/reconcile/matcher.h"

#include <algorithm>

namespace discbridge::reconcile {
namespace {

double value(Agreement a) {
  switch (a) {
    case Agreement::Exact: return 1.0;
    case Agreement::Equivalent: return 0.95;
    case Agreement::Close: return 0.6;
    case Agreement::Different: return 0.0;
    case Agreement::Missing: return 0.5;
  }
  return 0;
}

std::string upperAscii(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// One name component.
FieldComparison compareName(const char* field, const std::string& disc, const std::string& local, bool initials) {
  FieldComparison f{field, disc, local, Agreement::Missing, ""};
  std::string dk = nameKey(disc);
  std::string lk = nameKey(local);
  if (dk.empty() || lk.empty()) return f;
  if (upperAscii(disc) == upperAscii(local)) {
    f.agreement = Agreement::Exact;
  } else if (dk == lk) {
    f.agreement = Agreement::Equivalent;
    f.note = "same after folding case, diacritics, hyphens and spaces";
  } else if (initials && (dk.size() == 1 || lk.size() == 1) && dk[0] == lk[0]) {
    f.agreement = Agreement::Close;
    f.note = "initial";
  } else {
    int d = editDistance(dk, lk, 2);
    std::size_t shorter = std::min(dk.size(), lk.size());
    if ((d == 1 && shorter >= 4) || (d == 2 && shorter >= 7)) {
      f.agreement = Agreement::Close;
      f.note = std::to_string(d) + (d == 1 ? " letter" : " letters") + " apart";
    } else if (phoneticKey(dk) == phoneticKey(lk) && shorter >= 4 && d <= 2) {
      f.agreement = Agreement::Close;
      f.note = "sounds alike";
    } else if (shorter >= 3 && (dk.rfind(lk, 0) == 0 || lk.rfind(dk, 0) == 0)) {
      f.agreement = Agreement::Close;
      f.note = "one is a prefix of the other";
    } else {
      f.agreement = Agreement::Different;
    }
  }
  return f;
}

FieldComparison compareDate(const std::string& disc, const std::string& local) {
  FieldComparison f{"birth_date", disc, local, Agreement::Missing, ""};
  std::string d = normaliseDate(disc);
  std::string l = normaliseDate(local);
  if (d.empty() || l.empty()) return f;
  if (d == l) {
    f.agreement = Agreement::Exact;
    return f;
  }
  if (d.substr(0, 4) == l.substr(0, 4) && d.substr(4, 2) == l.substr(6, 2) && d.substr(6, 2) == l.substr(4, 2)) {
    f.agreement = Agreement::Close;
    f.note = "day and month swapped";
    return f;
  }
  int diff = 0;
  for (std::size_t i = 0; i < 8; ++i) diff += d[i] != l[i] ? 1 : 0;
  if (diff == 1) {
    f.agreement = Agreement::Close;
    f.note = "one digit off";
    return f;
  }
  f.agreement = Agreement::Different;
  return f;
}

FieldComparison compareSex(const std::string& disc, const std::string& local) {
  FieldComparison f{"sex", disc, local, Agreement::Missing, ""};
  std::string d = normaliseSex(disc);
  std::string l = normaliseSex(local);
  if (d.empty() || l.empty() || d == "O" || l == "O") {
    if (!d.empty() && d == l) f.agreement = Agreement::Exact;
    return f;
  }
  f.agreement = d == l ? Agreement::Exact : Agreement::Different;
  return f;
}

bool good(Agreement a) { return a == Agreement::Exact || a == Agreement::Equivalent; }

}  // namespace

const char* agreementName(Agreement a) {
  switch (a) {
    case Agreement::Exact: return "exact";
    case Agreement::Equivalent: return "equivalent";
    case Agreement::Close: return "close";
    case Agreement::Different: return "different";
    case Agreement::Missing: return "missing";
  }
  return "missing";
}

const char* strengthName(Strength s) {
  switch (s) {
    case Strength::Strong: return "strong";
    case Strength::Possible: return "possible";
    case Strength::Weak: return "weak";
  }
  return "weak";
}

DiscPatient discPatientOf(const ingest::PatientOnMedium& p) {
  return DiscPatient{p.patientId, p.issuer, p.name, p.birthDate, p.sex};
}

DirectoryQuery queryFor(const DiscPatient& p) {
  DirectoryQuery q;
  q.name = parsePersonName(p.name);
  q.birthDate = p.birthDate;
  q.sex = p.sex;
  q.foreignId = p.patientId;
  q.foreignIssuer = p.issuer;
  return q;
}

Candidate score(const DiscPatient& disc, const LocalPatient& local, const MatchThresholds& t) {
  PersonName dn = parsePersonName(disc.name);
  Candidate c;
  c.patient = local;

  // Names: the current name, each previous name, and family/given swapped;
  // the best-scoring reading is the one shown.
  std::vector<FieldComparison> best;
  double bestValue = -1;
  auto tryName = [&](const PersonName& ln, bool swapped, const char* how) {
    const std::string& df = swapped ? dn.given : dn.family;
    const std::string& dg = swapped ? dn.family : dn.given;
    auto fam = compareName("family_name", df, ln.family, false);
    auto giv = compareName("given_name", dg, ln.given, true);
    auto mid = compareName("middle_name", dn.middle, ln.middle, true);
    if (swapped) {
      for (auto* f : {&fam, &giv}) {
        if (f->agreement == Agreement::Exact) f->agreement = Agreement::Equivalent;
        f->note = "family and given names swapped";
      }
    }
    if (how != nullptr) fam.note = fam.note.empty() ? how : std::string(how) + "; " + fam.note;
    // Middle names are often left out: only a clash counts against.
    double v = 0.30 * value(fam.agreement) + 0.20 * value(giv.agreement) + 0.05 * value(mid.agreement);
    if (v > bestValue) {
      bestValue = v;
      best = {fam, giv, mid};
    }
  };
  tryName(local.name, false, nullptr);
  tryName(local.name, true, nullptr);
  for (const auto& prev : local.previousNames) tryName(prev, false, "matches a previous name");

  auto dob = compareDate(disc.birthDate, local.birthDate);
  auto sex = compareSex(disc.sex, local.sex);
  double total = bestValue + 0.30 * value(dob.agreement) + 0.10 * value(sex.agreement);
  double weights = 0.30 + 0.20 + 0.05 + 0.30 + 0.10;
  c.score = total / weights;

  // The disc's ID already known for this patient from an earlier import.
  bool idKnown = false;
  for (const auto& o : local.otherIds) {
    if (!disc.patientId.empty() && o.id == disc.patientId &&
        (o.issuer.empty() || disc.issuer.empty() || o.issuer == disc.issuer)) {
      idKnown = true;
    }
  }
  c.fields = best;
  c.fields.push_back(dob);
  c.fields.push_back(sex);
  FieldComparison other{"other_id", disc.patientId, "", idKnown ? Agreement::Exact : Agreement::Missing, ""};
  if (idKnown) {
    other.local = disc.patientId;
    other.note = "this disc's patient ID was recorded for this patient before";
    c.score = std::min(1.0, c.score + 0.10);
  }
  c.fields.push_back(other);

  const Agreement fam = c.fields[0].agreement;
  const Agreement giv = c.fields[1].agreement;
  const bool noClash = sex.agreement != Agreement::Different && c.fields[2].agreement != Agreement::Different;
  // Strong needs the identifying fields themselves to agree, not just a high
  // sum: a wrong strong match is the mistake that must not happen.
  if (c.score >= t.strong && dob.agreement == Agreement::Exact && good(fam) && good(giv) && noClash) {
    c.strength = Strength::Strong;
  } else if (c.score >= t.possible) {
    c.strength = Strength::Possible;
  } else {
    c.strength = Strength::Weak;
  }
  return c;
}

std::vector<Candidate> rank(const DiscPatient& disc, const std::vector<LocalPatient>& locals, const MatchThresholds& t) {
  std::vector<Candidate> out;
  PersonName dn = parsePersonName(disc.name);
  // A disc patient with neither a usable name nor a birth date matches no one.
  if (nameKey(dn.family).empty() && nameKey(dn.given).empty() && normaliseDate(disc.birthDate).empty() &&
      disc.patientId.empty()) {
    return out;
  }
  for (const auto& l : locals) {
    Candidate c = score(disc, l, t);
    if (c.score >= t.minimum) out.push_back(std::move(c));
  }
  std::stable_sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
    if (a.strength != b.strength) return a.strength < b.strength;
    return a.score > b.score;
  });
  if (out.size() > t.maxCandidates) out.resize(t.maxCandidates);
  return out;
}

std::vector<std::string> conflicts(const ingest::PatientOnMedium& p) {
  std::vector<std::string> out;
  auto report = [&](const char* what, const std::vector<std::string>& values, auto&& sameKey) {
    std::vector<std::string> distinct;
    for (const auto& v : values) {
      if (std::none_of(distinct.begin(), distinct.end(), [&](const std::string& d) { return sameKey(d) == sameKey(v); }))
        distinct.push_back(v);
    }
    if (distinct.size() > 1) {
      std::string line = std::string("patient ID ") + p.patientId + " appears with " +
                         std::to_string(distinct.size()) + " different " + what + ": ";
      for (std::size_t i = 0; i < distinct.size(); ++i) line += (i ? ", " : "") + ("'" + distinct[i] + "'");
      out.push_back(line);
    }
  };
  report("names", p.nameVariants, [](const std::string& n) {
    auto pn = parsePersonName(n);
    return nameKey(pn.family) + "^" + nameKey(pn.given);
  });
  report("birth dates", p.birthDateVariants, [](const std::string& d) { return normaliseDate(d); });
  report("sexes", p.sexVariants, [](const std::string& s) { return normaliseSex(s); });
  return out;
}

}  // namespace discbridge::reconcile
