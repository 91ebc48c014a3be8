#include "discbridge/reconcile/matcher.h"

#include <gtest/gtest.h>

namespace discbridge::reconcile {
namespace {

LocalPatient local(const std::string& mrn, const std::string& family, const std::string& given,
                   const std::string& dob, const std::string& sex) {
  LocalPatient p;
  p.mrn = mrn;
  p.issuer = "GENHOSP";
  p.name.family = family;
  p.name.given = given;
  p.birthDate = dob;
  p.sex = sex;
  return p;
}

const FieldComparison& field(const Candidate& c, const std::string& name) {
  for (const auto& f : c.fields) {
    if (f.field == name) return f;
  }
  throw std::runtime_error("no field " + name);
}

MatchThresholds t;

TEST(Matcher, ExactIsStrong) {
  auto c = score({"EXT1", "", "Doe^Jane", "19700101", "F"}, local("1", "Doe", "Jane", "19700101", "F"), t);
  EXPECT_EQ(c.strength, Strength::Strong);
  EXPECT_GT(c.score, 0.95);
  EXPECT_EQ(field(c, "family_name").agreement, Agreement::Exact);
  EXPECT_EQ(field(c, "birth_date").agreement, Agreement::Exact);
}

TEST(Matcher, DiacriticsAreEquivalent) {
  auto c = score({"", "", "Mueller^Anna", "19800214", "F"}, local("2", "M\xc3\xbcller", "Anna", "19800214", "F"), t);
  EXPECT_EQ(field(c, "family_name").agreement, Agreement::Equivalent);
  EXPECT_EQ(c.strength, Strength::Strong);
}

TEST(Matcher, SwappedNamesAreEquivalent) {
  auto c = score({"", "", "Jane^Doe", "19700101", "F"}, local("1", "Doe", "Jane", "19700101", "F"), t);
  EXPECT_EQ(field(c, "family_name").agreement, Agreement::Equivalent);
  EXPECT_NE(field(c, "family_name").note.find("swapped"), std::string::npos);
  EXPECT_GE(c.score, t.possible);
}

TEST(Matcher, TransposedOrOneDigitDatesAreCloseNeverStrong) {
  auto tr = score({"", "", "Doe^Jane", "19700312", "F"}, local("1", "Doe", "Jane", "19701203", "F"), t);
  EXPECT_EQ(field(tr, "birth_date").agreement, Agreement::Close);
  EXPECT_EQ(field(tr, "birth_date").note, "day and month swapped");
  EXPECT_NE(tr.strength, Strength::Strong);
  EXPECT_GE(tr.score, t.possible);
  auto one = score({"", "", "Doe^Jane", "19700102", "F"}, local("1", "Doe", "Jane", "19700101", "F"), t);
  EXPECT_EQ(field(one, "birth_date").note, "one digit off");
  EXPECT_NE(one.strength, Strength::Strong);
}

TEST(Matcher, SexClashPreventsStrong) {
  auto c = score({"", "", "Doe^Jane", "19700101", "M"}, local("1", "Doe", "Jane", "19700101", "F"), t);
  EXPECT_EQ(field(c, "sex").agreement, Agreement::Different);
  EXPECT_NE(c.strength, Strength::Strong);
  auto o = score({"", "", "Doe^Jane", "19700101", "O"}, local("1", "Doe", "Jane", "19700101", "F"), t);
  EXPECT_EQ(field(o, "sex").agreement, Agreement::Missing);
}

TEST(Matcher, MissingMiddleNameDoesNotCount) {
  auto withMiddle = local("1", "Doe", "Jane", "19700101", "F");
  withMiddle.name.middle = "Mary";
  auto c = score({"", "", "Doe^Jane", "19700101", "F"}, withMiddle, t);
  EXPECT_EQ(field(c, "middle_name").agreement, Agreement::Missing);
  EXPECT_EQ(c.strength, Strength::Strong);
}

TEST(Matcher, PreviousNameMatches) {
  auto p = local("1", "Smith", "Jane", "19700101", "F");
  p.previousNames.push_back(PersonName{"Doe", "Jane", "", "", ""});
  auto c = score({"", "", "Doe^Jane", "19700101", "F"}, p, t);
  EXPECT_EQ(field(c, "family_name").agreement, Agreement::Exact);
  EXPECT_NE(field(c, "family_name").note.find("previous"), std::string::npos);
}

TEST(Matcher, KnownForeignIdRaisesAndExplains) {
  auto p = local("1", "Doe", "Jane", "19700101", "F");
  p.otherIds.push_back(OtherId{"EXT1", "OUTSIDE"});
  auto c = score({"EXT1", "OUTSIDE", "Doe^J", "19700101", "F"}, p, t);
  EXPECT_EQ(field(c, "other_id").agreement, Agreement::Exact);
  auto without = score({"EXT1", "OUTSIDE", "Doe^J", "19700101", "F"}, local("1", "Doe", "Jane", "19700101", "F"), t);
  EXPECT_GT(c.score, without.score);
}

TEST(Matcher, RankingPutsTheRightPatientFirstAndDropsNoise) {
  std::vector<LocalPatient> locals = {local("A", "Doe", "John", "19700101", "M"), local("B", "Doe", "Jane", "19700101", "F"),
                                      local("C", "Zed", "Xavier", "19201231", "M")};
  auto r = rank({"", "", "DOE^JANE", "19700101", "F"}, locals, t);
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0].patient.mrn, "B");
  for (const auto& c : r) EXPECT_NE(c.patient.mrn, "C");
}

TEST(Matcher, EmptyOrGarbageNameMatchesNoOne) {
  std::vector<LocalPatient> locals = {local("A", "Doe", "John", "19700101", "M")};
  EXPECT_TRUE(rank({"", "", "", "", ""}, locals, t).empty());
  EXPECT_TRUE(rank({"", "", "^^^^", "", ""}, locals, t).empty());
  EXPECT_TRUE(rank({"", "", "12345", "", ""}, locals, t).empty());
}

TEST(Matcher, ConflictsWithinOneMedium) {
  ingest::PatientOnMedium p;
  p.patientId = "EXT1";
  p.nameVariants = {"Doe^Jane", "DOE^JANE", "Roe^Richard"};
  p.birthDateVariants = {"19700101", "19700101"};
  p.sexVariants = {"F", "M"};
  auto c = conflicts(p);
  ASSERT_EQ(c.size(), 2u);  // names (case alone is no conflict) and sexes
  EXPECT_NE(c[0].find("names"), std::string::npos);
  EXPECT_NE(c[1].find("sexes"), std::string::npos);
}

}  // namespace
}  // namespace discbridge::reconcile
