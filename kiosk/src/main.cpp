#include "discbridge/kiosk/cli.h"

int main(int argc, char** argv) { return discbridge::kiosk::runCli(argc, argv); }
