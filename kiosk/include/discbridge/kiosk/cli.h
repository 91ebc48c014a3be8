// The discbridge command line (contract: docs/cli.md). Returns the exit status.
#pragma once

namespace discbridge::kiosk {

int runCli(int argc, char** argv);

}  // namespace discbridge::kiosk
