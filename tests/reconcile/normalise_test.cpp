#include "discbridge/reconcile/normalise.h"

#include <gtest/gtest.h>

namespace discbridge::reconcile {
namespace {

TEST(Normalise, DiacriticsAndTransliterationsFoldTogether) {
  EXPECT_EQ(nameKey("M\xc3\xbcller"), "MULLER");  // Müller
  EXPECT_EQ(nameKey("Mueller"), "MULLER");
  EXPECT_EQ(nameKey("MULLER"), "MULLER");
  EXPECT_EQ(nameKey("Fran\xc3\xa7ois"), "FRANCOIS");
  EXPECT_EQ(nameKey("\xc3\x98ster"), "OSTER");
  EXPECT_EQ(nameKey("Stra\xc3\x9f" "e"), "STRASSE");
  EXPECT_EQ(nameKey("Wei\xc3\x9f"), nameKey("Weiss"));
  EXPECT_EQ(nameKey("Dvo\xc5\x99\xc3\xa1k"), "DVORAK");  // Dvořák
}

TEST(Normalise, HyphensSpacesAndCaseIgnored) {
  EXPECT_EQ(nameKey("Smith-Jones"), nameKey("smith jones"));
  EXPECT_EQ(nameKey("O'Brien"), "OBRIEN");
  EXPECT_EQ(nameKey("  "), "");
  EXPECT_EQ(nameKey("1234"), "");
}

TEST(Normalise, PersonNameComponentsAndGroups) {
  auto n = parsePersonName("Yamada^Tarou=\xe5\xb1\xb1\xe7\x94\xb0^\xe5\xa4\xaa\xe9\x83\x8e=");
  EXPECT_EQ(n.family, "Yamada");
  EXPECT_EQ(n.given, "Tarou");
  auto m = parsePersonName("Doe^John^Paul^Dr^Jr");
  EXPECT_EQ(m.middle, "Paul");
  EXPECT_EQ(m.prefix, "Dr");
  EXPECT_EQ(m.suffix, "Jr");
  auto c = parsePersonName("Doe, John");
  EXPECT_EQ(c.family, "Doe");
  EXPECT_EQ(c.given, "John");
  EXPECT_EQ(formatPersonName(parsePersonName("Doe^John")), "Doe^John");
}

TEST(Normalise, PhoneticKey) {
  EXPECT_EQ(phoneticKey("ROBERT"), "R163");
  EXPECT_EQ(phoneticKey("RUPERT"), "R163");
  EXPECT_EQ(phoneticKey(nameKey("Meyer")), phoneticKey(nameKey("Maier")));
  EXPECT_EQ(phoneticKey(""), "");
}

TEST(Normalise, DatesAndSex) {
  EXPECT_EQ(normaliseDate("1970-01-31"), "19700131");
  EXPECT_EQ(normaliseDate("19700131"), "19700131");
  EXPECT_EQ(normaliseDate("19701331"), "");
  EXPECT_EQ(normaliseDate("tomorrow"), "");
  EXPECT_EQ(normaliseSex("female"), "F");
  EXPECT_EQ(normaliseSex("M"), "M");
  EXPECT_EQ(normaliseSex("O"), "O");
  EXPECT_EQ(normaliseSex("U"), "");
}

TEST(Normalise, EditDistanceCountsTranspositionsOnce) {
  EXPECT_EQ(editDistance("SMITH", "SMITH"), 0);
  EXPECT_EQ(editDistance("SMITH", "SMYTH"), 1);
  EXPECT_EQ(editDistance("SMITH", "SMIHT"), 1);
  EXPECT_EQ(editDistance("ABC", "XYZW", 2), 3);
}

}  // namespace
}  // namespace discbridge::reconcile
