// DCMTK and libcdio print to stderr on their own; these calls route their
// messages to a callback (the kiosk's logging facade) at a chosen level.
#pragma once

#include <functional>
#include <string>

namespace discbridge::ingest {

enum class LibraryLogLevel { Debug, Info, Warning, Error, Off };

// sink receives (library, message); null drops the messages.
void routeLibraryLogs(LibraryLogLevel level, std::function<void(const char*, const std::string&)> sink);

}  // namespace discbridge::ingest
