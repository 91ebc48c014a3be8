// discbridge-kiosk: the touch-screen application.
#include <QApplication>
#include <QCommandLineParser>
#include <QScreen>

#include <spdlog/spdlog.h>

#include <cstdio>

#include "bridge.h"
#include "kiosk_window.h"
#include "screenshots.h"

using namespace discbridge;

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName("discbridge-kiosk");
  QCommandLineParser cli;
  cli.setApplicationDescription("DiscBridge: the touch-screen import kiosk");
  cli.addHelpOption();
  QCommandLineOption config("config", "configuration file", "FILE");
  QCommandLineOption dataDir("data-dir", "data directory", "DIR");
  QCommandLineOption watch("watch", "folder of ISO images to read as discs", "DIR");
  QCommandLineOption to("to", "destination offered when confirming (a name or URL; repeatable)", "DEST");
  QCommandLineOption noDrives("no-drives", "do not watch optical drives");
  QCommandLineOption windowed("windowed", "a window instead of full screen");
  QCommandLineOption shots("screenshots", "render every screen to PNG files in DIR and exit", "DIR");
  cli.addOptions({config, dataDir, watch, to, noDrives, windowed, shots});
  cli.process(app);

  kiosk::ConfigSources sources;
  if (cli.isSet(config)) sources.configFile = cli.value(config).toStdString();
  if (cli.isSet(dataDir)) sources.dataDir = cli.value(dataDir).toStdString();
  auto cfg = kiosk::loadConfig(sources);
  if (!cfg) {
    std::fprintf(stderr, "discbridge-kiosk: %s\n", cfg.error().message.c_str());
    return 2;
  }
  if (cli.isSet(watch)) cfg->kiosk.watchFolder = cli.value(watch).toStdString();
  if (cli.isSet(noDrives)) cfg->kiosk.watchDrives = false;
  for (const auto& d : cli.values(to)) cfg->kiosk.destinations.push_back(d.toStdString());
  spdlog::set_level(spdlog::level::from_str(cfg->logLevel));

  auto manager = kiosk::SessionManager::open(*cfg);
  if (!manager) {
    std::fprintf(stderr, "discbridge-kiosk: %s\n", manager.error().message.c_str());
    return 1;
  }
  int status = 0;
  {
    ui::Bridge bridge(**manager);
    ui::KioskWindow window(bridge);
    (*manager)->start();
    if (cli.isSet(shots)) {
      window.show();
      status = ui::renderScreens(window, bridge, cli.value(shots), {QSize(1280, 800), QSize(1920, 1080)});
    } else {
      if (cli.isSet(windowed)) {
        window.resize(1280, 800);
        window.show();
      } else {
        window.showFullScreen();
      }
      status = QApplication::exec();
    }
  }
  return status;
}
