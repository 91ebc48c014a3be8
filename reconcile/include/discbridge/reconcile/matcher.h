// Ranks local candidates for a patient found on a disc, with a per-field
// explanation for the staff screen. A person confirms; nothing here decides.
#pragma once

#include <string>
#include <vector>

#include "discbridge/ingest/content.h"
#include "discbridge/reconcile/patient.h"

namespace discbridge::reconcile {

enum class Agreement { Exact, Equivalent, Close, Different, Missing };
const char* agreementName(Agreement a);

enum class Strength { Strong, Possible, Weak };
const char* strengthName(Strength s);

struct FieldComparison {
  std::string field;  // family_name, given_name, middle_name, birth_date, sex, other_id
  std::string disc;
  std::string local;
  Agreement agreement = Agreement::Missing;
  std::string note;  // how it differs ("day and month swapped", "one digit off", ...)
};

struct Candidate {
  LocalPatient patient;
  double score = 0;  // 0..1
  Strength strength = Strength::Weak;
  std::vector<FieldComparison> fields;
};

struct MatchThresholds {
  double strong = 0.90;
  double possible = 0.70;
  double minimum = 0.40;  // below this a candidate is not shown
  std::size_t maxCandidates = 10;
};

struct DiscPatient {
  std::string patientId;
  std::string issuer;
  std::string name;  // PN, UTF-8
  std::string birthDate;
  std::string sex;
};

DiscPatient discPatientOf(const ingest::PatientOnMedium& p);
DirectoryQuery queryFor(const DiscPatient& p);

// Scores one candidate.
Candidate score(const DiscPatient& disc, const LocalPatient& local, const MatchThresholds& t);
// Scores, drops those under the minimum, sorts best first, keeps maxCandidates.
std::vector<Candidate> rank(const DiscPatient& disc, const std::vector<LocalPatient>& locals, const MatchThresholds& t);

// Within one medium: the same patient ID with different names, birth dates or
// sexes, one line each.
std::vector<std::string> conflicts(const ingest::PatientOnMedium& p);

}  // namespace discbridge::reconcile
