// Small text helpers: UTF-8 validation and Latin-1 decoding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace discbridge::ingest::detail {

bool isAscii(std::string_view s);
bool isValidUtf8(std::string_view s);
std::string latin1ToUtf8(std::string_view s);
// Converts with the C library's iconv; nullopt when the text does not convert.
std::optional<std::string> iconvToUtf8(std::string_view s, const char* from);
// Replaces invalid UTF-8 sequences with U+FFFD so any output stays valid.
std::string sanitiseUtf8(std::string_view s);

}  // namespace discbridge::ingest::detail
