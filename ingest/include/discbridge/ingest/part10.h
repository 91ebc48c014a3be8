// Copies an instance off a medium as a clean PS3.10 file: the preamble zeroed
// (it can carry executable code, CVE-2019-11687), a correct File Meta
// Information header where it was missing or wrong, the dataset byte for byte.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "discbridge/ingest/content.h"
#include "discbridge/ingest/medium.h"
#include "discbridge/ingest/result.h"

namespace discbridge::ingest {

// Sees every byte written, in order (a digest computed while copying saves
// reading the copy back).
using ByteObserver = std::function<void(std::span<const std::byte>)>;

// Writes to dest through a temporary name, flushed (fsync'd when durable) and
// renamed; returns the number of bytes written.
Result<std::uint64_t> copyAsPart10(Medium& medium, const InstanceRef& instance, const std::string& dest,
                                   bool durable = true, const ByteObserver& observe = {});

}  // namespace discbridge::ingest
