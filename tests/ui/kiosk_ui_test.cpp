// The kiosk application driven offscreen through whole sessions, by touch
// (button clicks) alone, fed by the watched ISO folder, delivering to a real
// Orthanc.
#include <QApplication>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSignalSpy>
#include <QTest>

#include <filesystem>
#include <fstream>

#include "../integration/cli_runner.h"
#include "../support/orthanc_server.h"
#include "bridge.h"
#include "discbridge/kiosk/audit.h"
#include "kiosk_window.h"

namespace fs = std::filesystem;
using namespace discbridge;
using discbridge::test::OrthancServer;

class KioskUiTest : public QObject {
  Q_OBJECT

 private:
  fs::path home_;
  kiosk::Config cfg_;
  std::unique_ptr<OrthancServer> orthanc_;
  std::unique_ptr<kiosk::SessionManager> manager_;
  std::unique_ptr<ui::Bridge> bridge_;
  std::unique_ptr<ui::KioskWindow> window_;

  static fs::path fixtures() { return fs::path(discbridge::test::env("DISCBRIDGE_FIXTURES")); }

  void openKiosk() {
    auto m = kiosk::SessionManager::open(cfg_);
    QVERIFY2(m, m ? "" : m.error().message.c_str());
    manager_ = std::move(*m);
    bridge_ = std::make_unique<ui::Bridge>(*manager_);
    window_ = std::make_unique<ui::KioskWindow>(*bridge_);
    window_->resize(1280, 800);
    window_->show();
    manager_->start();
  }
  void closeKiosk() {
    window_.reset();
    bridge_.reset();  // stops the manager's threads
    manager_.reset();
  }

  void tap(const QString& name) {
    auto* b = window_->findChild<QPushButton*>(name);
    QVERIFY2(b != nullptr, qPrintable("no button " + name));
    QVERIFY2(b->isVisible() && b->isEnabled(), qPrintable("button not available: " + name));
    QTest::mouseClick(b, Qt::LeftButton);
  }
  QString text(const QString& name) {
    auto* l = window_->findChild<QLabel*>(name);
    return l != nullptr ? l->text() : QString();
  }
  void insert(const std::string& image, const std::string& as = {}) {
    fs::copy_file(fixtures() / image, home_ / "watch" / (as.empty() ? image : as));
  }
  void signIn() {
    tap("staffButton");
    QCOMPARE(window_->page(), QString("pin"));
    for (const char* d : {"pin2", "pin4", "pin6", "pin8"}) tap(d);
    tap("pinOk");
    QTRY_COMPARE_WITH_TIMEOUT(window_->page(), QString("queue"), 10000);
  }
  // Opens the newest session awaiting confirmation from the staff queue.
  void openFirstSession() {
    auto* list = window_->findChild<QListWidget*>("queueList");
    QTRY_VERIFY_WITH_TIMEOUT(list->count() > 0, 10000);
    list->setCurrentRow(0);
    tap("openSession");
    QCOMPARE(window_->page(), QString("detail"));
  }
  std::size_t instancesInOrthanc() {
    auto j = discbridge::test::httpGet(orthanc_->httpPort, "/instances");
    return j.is_array() ? j.size() : 0;
  }

 private slots:
  void init() {
    home_ = fixtures() / ("ui_" + std::string(QTest::currentTestFunction()));
    fs::remove_all(home_);
    fs::create_directories(home_ / "watch");
    const int listen = discbridge::test::freePort();
    if (OrthancServer::available()) {
      OrthancServer::Options o;
      o.modalities = {{"DISCBRIDGE", listen}};
      orthanc_ = std::make_unique<OrthancServer>(home_ / "orthanc", o);
      std::string err;
      QVERIFY2(orthanc_->start(err), err.c_str());
    }
    cfg_ = kiosk::Config{};
    cfg_.dataDir = home_.string();
    cfg_.logLevel = "warn";
    cfg_.kiosk.watchFolder = (home_ / "watch").string();
    cfg_.kiosk.watchDrives = false;
    cfg_.kiosk.pollMilliseconds = 100;
    cfg_.kiosk.idleSeconds = 5;
    cfg_.kiosk.receiptSeconds = 3;
    cfg_.delivery.listenerPort = listen;
    uplink::PacsDestination pacs;
    pacs.name = "pacs";
    pacs.host = "127.0.0.1";
    pacs.port = orthanc_ ? orthanc_->dicomPort : 1;
    pacs.calledAe = "ORTHANC";
    pacs.timeoutSeconds = 5;
    pacs.commitTimeoutSeconds = 10;
    cfg_.delivery.pacs["pacs"] = pacs;
    std::ofstream(home_ / "local.csv") << "mrn,issuer,family,given,birth_date,sex\n"
                                       << "100001,GENHOSP,Doe,Jane,19700101,F\n"
                                       << "100003,GENHOSP,Roe,Richard,19551212,M\n";
    auto r = discbridge::test::runCli({"--data-dir", home_.string(), "mpi", "import", (home_ / "local.csv").string()}, false);
    QCOMPARE(r.status, 0);
  }
  void cleanup() {
    closeKiosk();
    orthanc_.reset();
    fs::remove_all(home_);
  }

  void goodDiscIsConfirmedByStaffAndDelivered() {
    if (!orthanc_) QSKIP("Orthanc is not installed");
    openKiosk();
    QSignalSpy changes(bridge_.get(), &ui::Bridge::sessionChanged);
    QCOMPARE(window_->page(), QString("welcome"));
    insert("good.iso");
    // The patient sees what was found, with a picture of each study.
    QTRY_COMPARE_WITH_TIMEOUT(window_->page(), QString("found"), 30000);
    bool sawReading = false;
    for (const auto& args : changes) {
      sawReading |= args.at(0).value<kiosk::SessionInfo>().state == kiosk::SessionState::Reading;
    }
    QVERIFY(sawReading);
    QVERIFY(text("foundName").contains("Jane Doe"));
    QVERIFY(text("foundBirth").contains("1970"));
    auto* studies = window_->findChild<QListWidget*>("foundStudies");
    QVERIFY(studies->count() >= 1);
    QVERIFY(!studies->item(0)->icon().isNull());
    const auto session = manager_->session(window_->patientSession());
    QVERIFY(session.has_value());
    tap("foundYes");
    QCOMPARE(window_->page(), QString("receipt"));
    QCOMPARE(text("receiptCode"), QString::fromStdString(session->receipt));
    tap("receiptDone");
    QCOMPARE(window_->page(), QString("welcome"));
    QVERIFY(text("foundName").isEmpty());  // nothing left for the next patient

    // Front desk: PIN on the keypad, the queue, the ranked candidates.
    signIn();
    openFirstSession();
    auto* cands = window_->findChild<QListWidget*>("candidateList");
    QTRY_VERIFY_WITH_TIMEOUT(cands->count() > 0 && cands->item(0)->text().contains("100001"), 10000);
    auto* confirm = window_->findChild<QPushButton*>("confirmButton");
    QVERIFY(!confirm->isEnabled());  // nobody chosen yet
    QTest::mouseClick(cands->viewport(), Qt::LeftButton, {}, cands->visualItemRect(cands->item(0)).center());
    auto* table = window_->findChild<QTableWidget*>("comparison");
    QVERIFY(table->rowCount() >= 4);
    QVERIFY(confirm->isEnabled());
    tap("confirmButton");
    QTRY_COMPARE_WITH_TIMEOUT(manager_->session(session->id)->state, kiosk::SessionState::Done, 60000);
    QCOMPARE(instancesInOrthanc(), std::size_t{5});
    auto ids = discbridge::test::httpGet(orthanc_->httpPort, "/instances");
    auto tags = discbridge::test::httpGet(orthanc_->httpPort, "/instances/" + ids[0].get<std::string>() + "/tags?simplify");
    QCOMPARE(QString::fromStdString(tags["PatientID"].get<std::string>()), QString("100001"));
    QCOMPARE(QString::fromStdString(tags["OtherPatientIDsSequence"][0]["PatientID"].get<std::string>()), QString("EXT123"));
    QTRY_VERIFY_WITH_TIMEOUT(!fs::exists(home_ / "spool" / ("session-" + std::to_string(session->id))), 10000);
    tap("backButton");
    tap("signOut");
    QCOMPARE(window_->page(), QString("welcome"));

    auto verified = kiosk::AuditTrail::verify((home_ / "audit.log").string());
    QVERIFY(verified && verified->intact);
    std::ifstream in(home_ / "audit.log");
    std::string trail((std::istreambuf_iterator<char>(in)), {});
    for (const char* code : {"110107", "110110", "110104", "110114", "110112"}) {
      QVERIFY2(trail.find(code) != std::string::npos, code);
    }
  }

  void unreadableAndEmptyDiscsSendThePatientToTheDesk() {
    openKiosk();
    insert("not_an_image.iso");
    QTRY_COMPARE_WITH_TIMEOUT(window_->page(), QString("failure"), 30000);
    QVERIFY(text("failureTitle").contains("could not read"));
    QCOMPARE(text("failureCode").size(), 6);
    tap("failureDone");
    QCOMPARE(window_->page(), QString("welcome"));
    insert("non_dicom.iso");
    QTRY_COMPARE_WITH_TIMEOUT(window_->page(), QString("failure"), 30000);
    QVERIFY(text("failureTitle").contains("no images"));
    // Left alone, the failure screen goes back to the welcome screen.
    QTRY_COMPARE_WITH_TIMEOUT(window_->page(), QString("welcome"), 10000);
    QVERIFY(text("failureCode").isEmpty());
  }

  void rejectedMatchPurgesTheDisc() {
    openKiosk();
    insert("good.iso");
    QTRY_COMPARE_WITH_TIMEOUT(window_->page(), QString("found"), 30000);
    const auto id = window_->patientSession();
    tap("foundNo");  // the patient says it is not theirs
    QTRY_VERIFY_WITH_TIMEOUT(manager_->session(id)->patientDisowned, 5000);
    tap("receiptDone");
    signIn();
    openFirstSession();
    tap("rejectButton");
    QCOMPARE(manager_->session(id)->state, kiosk::SessionState::AwaitingConfirmation);  // asks twice
    tap("rejectButton");
    QTRY_COMPARE_WITH_TIMEOUT(manager_->session(id)->state, kiosk::SessionState::Rejected, 10000);
    QVERIFY(!fs::exists(home_ / "spool" / ("session-" + std::to_string(id))));
    std::ifstream in(home_ / "audit.log");
    std::string trail((std::istreambuf_iterator<char>(in)), {});
    QVERIFY(trail.find("110105") != std::string::npos);
    if (orthanc_) QCOMPARE(instancesInOrthanc(), std::size_t{0});
  }

  void restartInTheMiddleOfASession() {
    if (!orthanc_) QSKIP("Orthanc is not installed");
    openKiosk();
    insert("good.iso");
    QTRY_COMPARE_WITH_TIMEOUT(window_->page(), QString("found"), 30000);
    const auto id = window_->patientSession();
    closeKiosk();  // power cut before staff confirmed

    openKiosk();
    QCOMPARE(window_->page(), QString("welcome"));  // the patient's data is not on screen again
    QCOMPARE(manager_->session(id)->state, kiosk::SessionState::AwaitingConfirmation);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    QCOMPARE(manager_->sessions().size(), std::size_t{1});  // the image is not read again
    signIn();
    openFirstSession();
    auto* cands = window_->findChild<QListWidget*>("candidateList");
    QTRY_VERIFY_WITH_TIMEOUT(cands->count() > 0, 10000);
    cands->setCurrentRow(0);
    tap("confirmButton");
    QTRY_COMPARE_WITH_TIMEOUT(manager_->session(id)->state, kiosk::SessionState::Queued, 10000);
    closeKiosk();  // and again while delivering

    openKiosk();
    QTRY_COMPARE_WITH_TIMEOUT(manager_->session(id)->state, kiosk::SessionState::Done, 60000);
    QCOMPARE(instancesInOrthanc(), std::size_t{5});
  }

  void idlePatientScreenReturnsToWelcome() {
    openKiosk();
    insert("good.iso");
    QTRY_COMPARE_WITH_TIMEOUT(window_->page(), QString("found"), 30000);
    QVERIFY(!text("foundName").isEmpty());
    QTRY_COMPARE_WITH_TIMEOUT(window_->page(), QString("welcome"), 10000);
    QVERIFY(text("foundName").isEmpty());
  }

  void searchByTouchFindsALocalPatient() {
    openKiosk();
    insert("good.iso");
    QTRY_COMPARE_WITH_TIMEOUT(window_->page(), QString("found"), 30000);
    tap("foundYes");
    tap("receiptDone");
    signIn();
    openFirstSession();
    tap("searchButton");
    QCOMPARE(window_->page(), QString("search"));
    for (const char* k : {"key:R", "key:O", "key:E", "key:space", "key:R", "key:I", "key:C", "key:H"}) tap(k);
    tap("runSearch");
    auto* results = window_->findChild<QListWidget*>("searchResults");
    QTRY_VERIFY_WITH_TIMEOUT(results->count() > 0, 10000);
    QVERIFY(results->item(0)->text().contains("100003"));
    tap("useResult");
    QCOMPARE(window_->page(), QString("detail"));
    auto* cands = window_->findChild<QListWidget*>("candidateList");
    bool listed = false;
    for (int i = 0; i < cands->count(); ++i) listed |= cands->item(i)->text().contains("100003");
    QVERIFY(listed);
    // Chosen, with the differing fields marked for staff to see.
    auto* table = window_->findChild<QTableWidget*>("comparison");
    bool differs = false;
    for (int r = 0; r < table->rowCount(); ++r) differs |= table->item(r, 3)->text().contains("differs");
    QVERIFY(differs);
  }
};

QTEST_MAIN(KioskUiTest)
#include "kiosk_ui_test.moc"
