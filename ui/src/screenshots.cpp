#include "screenshots.h"

#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QListWidget>
#include <QPushButton>
#include <QThread>

#include <cstdio>
#include <functional>

#include "kiosk_window.h"

namespace discbridge::ui {
namespace {

bool waitFor(const std::function<bool()>& done, int ms) {
  QElapsedTimer t;
  t.start();
  while (!done()) {
    if (t.elapsed() > ms) return false;
    QApplication::processEvents(QEventLoop::AllEvents, 20);
    QThread::msleep(10);
  }
  return true;
}

void click(KioskWindow& w, const QString& name) {
  if (auto* b = w.findChild<QPushButton*>(name)) b->click();
  QApplication::processEvents();
}

}  // namespace

int renderScreens(KioskWindow& window, Bridge& bridge, const QString& dir, const QList<QSize>& sizes) {
  auto grab = [&](const QString& name) {
    for (const auto& size : sizes) {
      window.resize(size);
      QApplication::processEvents();
      QString sub = QString("%1/%2x%3").arg(dir).arg(size.width()).arg(size.height());
      QDir().mkpath(sub);
      window.grab().save(sub + "/" + name + ".png");
    }
    std::printf("rendered %s\n", qPrintable(name));
  };
  grab("01-welcome");
  kiosk::SessionInfo read;
  if (!waitFor(
          [&] {
            for (const auto& s : bridge.manager().sessions()) {
              if (s.state == kiosk::SessionState::AwaitingConfirmation) {
                read = s;
                return true;
              }
            }
            return false;
          },
          60000)) {
    std::fprintf(stderr, "no disc was read within a minute (is an image in the watched folder?)\n");
    return 1;
  }
  auto reading = read;
  reading.state = kiosk::SessionState::Reading;
  reading.progress = {212, 480, 315000000, 700000000, 52.5e6, 7.3};
  window.showPatientPage(reading);
  grab("02-reading");
  window.showPatientPage(read);
  grab("03-found");
  click(window, "foundYes");
  grab("04-receipt");
  auto failed = read;
  failed.state = kiosk::SessionState::Unreadable;
  failed.message = "This disc could not be read (no ISO 9660 or UDF file system on it).";
  window.showPatientPage(failed);
  grab("05-failure");
  click(window, "failureDone");
  click(window, "staffButton");
  for (const char* d : {"pin2", "pin4", "pin6"}) click(window, d);
  grab("06-pin");
  click(window, "pin8");
  click(window, "pinOk");
  if (!waitFor([&] { return window.page() == "queue"; }, 10000)) {
    std::fprintf(stderr, "staff sign-in failed (the screenshots use the default PIN)\n");
    return 1;
  }
  auto* list = window.findChild<QListWidget*>("queueList");
  waitFor([&] { return list->count() > 0; }, 5000);
  list->setCurrentRow(0);
  grab("07-queue");
  click(window, "openSession");
  auto* cands = window.findChild<QListWidget*>("candidateList");
  waitFor([&] { return cands->count() > 0; }, 10000);
  cands->setCurrentRow(0);
  QApplication::processEvents();
  grab("08-confirm");
  click(window, "searchButton");
  for (const char* k : {"key:M", "key:U", "key:E", "key:L", "key:L", "key:E", "key:R"}) click(window, k);
  click(window, "runSearch");
  auto* results = window.findChild<QListWidget*>("searchResults");
  waitFor([&] { return results->count() > 0; }, 10000);
  grab("09-search");
  click(window, "searchBack");
  click(window, "backButton");
  click(window, "signOut");
  return 0;
}

}  // namespace discbridge::ui
