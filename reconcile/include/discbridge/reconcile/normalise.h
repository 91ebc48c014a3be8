// Name, date and sex normalisation for matching a disc's patient to local
// patients: PN components, case, diacritics (Müller = Mueller = Muller),
// hyphens and spaces; phonetic keys for blocking.
#pragma once

#include <string>
#include <string_view>

namespace discbridge::reconcile {

// A DICOM PN value split into its alphabetic components (ideographic and
// phonetic groups after '=' are ignored for matching).
struct PersonName {
  std::string family, given, middle, prefix, suffix;
};
PersonName parsePersonName(std::string_view pn);
std::string formatPersonName(const PersonName& n);

// Upper-case A-Z only: diacritics folded (Ü -> U, ß -> SS, Ø -> O, Æ -> AE),
// AE/OE/UE digraphs folded to A/O/U, everything else (spaces, hyphens,
// apostrophes, digits) dropped. Equal keys mean "equivalent" names.
std::string nameKey(std::string_view utf8);

// Soundex-style phonetic key of a nameKey (first letter + 3 digits).
std::string phoneticKey(std::string_view key);

// YYYYMMDD when the input is a valid date (DA, or YYYY-MM-DD), else empty.
std::string normaliseDate(std::string_view date);

// "M", "F", "O" or "" (unknown).
std::string normaliseSex(std::string_view sex);

// Levenshtein distance, capped: returns cap+1 when larger.
int editDistance(std::string_view a, std::string_view b, int cap = 3);

}  // namespace discbridge::reconcile
