// File names as PS3.12 and ISO 9660 define them, and the rule that nothing a
// medium names may lead outside it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace discbridge::ingest {

// One directory-record name as read: drops the ISO 9660 version suffix (";1")
// and a trailing dot ("NAME." for names without extension).
std::string normaliseComponent(std::string_view name);

// The key used to match DICOMDIR references to files: normalised components,
// upper case (ASCII), joined by '/'.
std::string matchKey(std::string_view path);

// Splits a DICOMDIR Referenced File ID (components separated by '\', or given
// as several values) into components; nullopt when any component would leave
// the file-set (empty, ".", "..", absolute, drive letter, '/' or NUL inside).
std::optional<std::vector<std::string>> confineReference(const std::vector<std::string>& values);

// True when a component read from a medium's directory may become part of a
// path (not ".", "..", empty, no '/', '\' or NUL).
bool isSafeComponent(std::string_view name);

// Parent directory of a '/'-separated medium path ("" for the root).
std::string parentOf(std::string_view path);
std::string baseName(std::string_view path);

}  // namespace discbridge::ingest
