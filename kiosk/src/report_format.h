// The scan report as the command line prints it: text for people, JSON for
// scripts and tests (the contract in docs/cli.md).
#pragma once

#include <string>

#include "discbridge/ingest/content.h"

namespace discbridge::kiosk {

std::string reportToJson(const ingest::FileSetReport& report);
std::string reportToText(const ingest::FileSetReport& report);

}  // namespace discbridge::kiosk
