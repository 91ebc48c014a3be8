// Constructors of the medium implementations, for the factory in medium.cpp.
#pragma once

#include <memory>
#include <string>

#include "discbridge/ingest/medium.h"

namespace discbridge::ingest::detail {

std::unique_ptr<Medium> openIsoImage(const std::string& path, const MediumOptions& options);
std::unique_ptr<Medium> openIsoDrive(const std::string& device, const MediumOptions& options);
std::unique_ptr<Medium> openUdf(const std::string& pathOrDevice, const std::string& kind, const MediumOptions& options);
std::unique_ptr<Medium> openDirectory(const std::string& path);

}  // namespace discbridge::ingest::detail
