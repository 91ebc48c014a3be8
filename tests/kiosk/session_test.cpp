// The kiosk's session workflow without a screen: real ISO images dropped into
// a watched folder, a real SQLite session store, spool and outbox, the audit
// trail as written on disk.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "discbridge/kiosk/audit.h"
#include "discbridge/kiosk/session.h"
#include "../support/rsyslog_server.h"
#include "media_watch.h"
#include "session_store.h"
#include "wiring.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace discbridge;
using namespace discbridge::kiosk;

namespace {

fs::path fixtures() {
  const char* v = std::getenv("DISCBRIDGE_FIXTURES");
  return v != nullptr && *v != '\0' ? fs::path(v) : fs::path(DISCBRIDGE_FIXTURES_DEFAULT);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fixtures() / ("kiosk_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(home_);
    fs::create_directories(home_ / "watch");
    cfg_.dataDir = home_.string();
    cfg_.kiosk.watchFolder = (home_ / "watch").string();
    cfg_.kiosk.watchDrives = false;
    cfg_.kiosk.pollMilliseconds = 100;
    cfg_.delivery.pacs["pacs"] = uplink::PacsDestination{};
    cfg_.delivery.pacs["pacs"].name = "pacs";
    cfg_.delivery.pacs["pacs"].port = 1;  // never delivered here: deliver = false
    std::ofstream(home_ / "local.csv") << "mrn,issuer,family,given,birth_date,sex\n"
                                       << "100001,GENHOSP,Doe,Jane,19700101,F\n";
    auto idx = openIndex(cfg_);
    ASSERT_TRUE(idx);
    ASSERT_TRUE((*idx)->importCsv((home_ / "local.csv").string(), ""));
  }
  void TearDown() override {
    manager_.reset();
    fs::remove_all(home_);
  }

  void open(bool watch = true) {
    auto m = SessionManager::open(cfg_, SessionManager::Options{false, watch});
    ASSERT_TRUE(m) << m.error().message;
    manager_ = std::move(*m);
    manager_->start();
  }

  void insert(const std::string& image) { fs::copy_file(fixtures() / image, home_ / "watch" / image); }

  // Waits for a session in one of the given states.
  std::optional<SessionInfo> waitFor(std::initializer_list<SessionState> states, std::chrono::seconds limit = 60s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      for (const auto& s : manager_->sessions()) {
        for (auto st : states) {
          if (s.state == st) return s;
        }
      }
      std::this_thread::sleep_for(50ms);
    }
    return std::nullopt;
  }

  std::string audit() { return slurp(home_ / "audit.log"); }

  fs::path home_;
  Config cfg_;
  std::unique_ptr<SessionManager> manager_;
};

TEST_F(SessionTest, GoodDiscIsSpooledSummarisedAndAwaitsStaff) {
  std::vector<SessionState> seen;
  std::mutex mu;
  auto m = SessionManager::open(cfg_, SessionManager::Options{false, true});
  ASSERT_TRUE(m);
  manager_ = std::move(*m);
  manager_->setListener([&](const SessionInfo& i) {
    std::lock_guard lock(mu);
    if (seen.empty() || seen.back() != i.state) seen.push_back(i.state);
  });
  manager_->start();
  insert("good.iso");
  auto s = waitFor({SessionState::AwaitingConfirmation});
  ASSERT_TRUE(s);
  {
    std::lock_guard lock(mu);
    ASSERT_GE(seen.size(), 3u);
    EXPECT_EQ(seen[0], SessionState::Reading);
    EXPECT_EQ(seen[seen.size() - 2], SessionState::Spooled);
  }
  EXPECT_EQ(s->receipt.size(), 6u);
  EXPECT_EQ(s->instances, 5u);
  ASSERT_EQ(s->patients.size(), 1u);
  EXPECT_EQ(s->patients[0].patientId, "EXT123");
  ASSERT_FALSE(s->patients[0].studies.empty());
  const auto& thumb = s->patients[0].studies[0].thumbnail;
  ASSERT_FALSE(thumb.empty());
  EXPECT_TRUE(fs::file_size(thumb) > 100);
  EXPECT_EQ(slurp(thumb).substr(0, 2), "P5");
  // Every instance is in the spool with its digest.
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(home_ / "spool" / ("session-" + std::to_string(s->id)))) files += e.is_regular_file();
  EXPECT_EQ(files, 5u);
  // The same image is not read twice.
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(manager_->sessions().size(), 1u);
  EXPECT_NE(audit().find("csd-code=\\\"110107\\\""), std::string::npos);
  EXPECT_NE(audit().find("EXT123"), std::string::npos);
}

TEST_F(SessionTest, ConfirmRefusesUnknownMrnAndQueuesTheJob) {
  open();
  insert("good.iso");
  auto s = waitFor({SessionState::AwaitingConfirmation});
  ASSERT_TRUE(s);
  auto cands = manager_->candidates(s->id, "anne");
  ASSERT_TRUE(cands);
  ASSERT_EQ(cands->size(), 1u);
  ASSERT_FALSE((*cands)[0].candidates.empty());
  EXPECT_EQ((*cands)[0].candidates[0].patient.mrn, "100001");

  Confirmation c{{{"EXT123", "999999"}}, {"pacs"}, "", "anne"};
  EXPECT_FALSE(manager_->confirm(s->id, c));  // a typo never creates a chart
  c.mrnByPatientId = {{"NOT-ON-DISC", "100001"}};
  EXPECT_FALSE(manager_->confirm(s->id, c));
  c.mrnByPatientId = {{"EXT123", "100001"}};
  c.staffUser.clear();
  EXPECT_FALSE(manager_->confirm(s->id, c));
  c.staffUser = "anne";
  c.destinations = {"nowhere"};
  EXPECT_FALSE(manager_->confirm(s->id, c));
  c.destinations = {"pacs"};
  ASSERT_TRUE(manager_->confirm(s->id, c));
  auto after = manager_->session(s->id);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->state, SessionState::Queued);
  EXPECT_EQ(after->confirmedBy, "anne");
  ASSERT_EQ(after->jobs.size(), 1u);
  std::int64_t queued = 0;
  for (const auto& [state, n] : after->deliveryCounts) queued += state == "queued" ? n : 0;
  EXPECT_EQ(queued, 5);
  EXPECT_FALSE(manager_->confirm(s->id, c));  // once only
  EXPECT_NE(audit().find("110110"), std::string::npos);
  EXPECT_NE(audit().find("110112"), std::string::npos);
}

TEST_F(SessionTest, UnreadableAndEmptyDiscsFailWithAReason) {
  open();
  insert("not_an_image.iso");
  auto bad = waitFor({SessionState::Unreadable});
  ASSERT_TRUE(bad);
  EXPECT_FALSE(bad->message.empty());
  insert("non_dicom.iso");
  auto none = waitFor({SessionState::NoDicom});
  ASSERT_TRUE(none);
  EXPECT_NE(none->message.find("No DICOM"), std::string::npos);
}

TEST_F(SessionTest, RejectPurgesTheSpoolAndIsAudited) {
  open();
  insert("good.iso");
  auto s = waitFor({SessionState::AwaitingConfirmation});
  ASSERT_TRUE(s);
  EXPECT_FALSE(manager_->reject(s->id, "", "no user"));
  ASSERT_TRUE(manager_->reject(s->id, "anne", "not our patient"));
  EXPECT_EQ(manager_->session(s->id)->state, SessionState::Rejected);
  EXPECT_FALSE(fs::exists(home_ / "spool" / ("session-" + std::to_string(s->id))));
  EXPECT_FALSE(fs::exists(home_ / "sessions" / std::to_string(s->id)));
  EXPECT_NE(audit().find("110105"), std::string::npos);
  auto v = AuditTrail::verify((home_ / "audit.log").string());
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->intact) << v->problem;
}

TEST_F(SessionTest, RestartResumesEverySessionWhereItWas) {
  open();
  insert("good.iso");
  auto s = waitFor({SessionState::AwaitingConfirmation});
  ASSERT_TRUE(s);
  manager_.reset();
  // A session the kiosk was still reading when it stopped, from an image
  // that is still there: read again on start.
  {
    auto store = SessionStore::open(cfg_.sessionsDb());
    ASSERT_TRUE(store);
    ASSERT_TRUE((*store)->create((fixtures() / "two_patients.iso").string(), "manual"));
    ASSERT_TRUE((*store)->create("/dev/sr-gone", "drive"));
  }
  open(false);
  auto waiting = manager_->session(s->id);
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->state, SessionState::AwaitingConfirmation);
  EXPECT_EQ(waiting->receipt, s->receipt);
  auto until = std::chrono::steady_clock::now() + 60s;
  std::optional<SessionInfo> reread, drive;
  while (std::chrono::steady_clock::now() < until) {
    for (const auto& x : manager_->sessions()) {
      if (x.source.find("two_patients") != std::string::npos && x.state == SessionState::AwaitingConfirmation) reread = x;
      if (x.source == "/dev/sr-gone") drive = x;
    }
    if (reread) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(reread);
  EXPECT_EQ(reread->patients.size(), 2u);
  ASSERT_TRUE(drive);
  EXPECT_EQ(drive->state, SessionState::Unreadable);
  EXPECT_NE(drive->message.find("insert the disc again"), std::string::npos);
}

TEST_F(SessionTest, StaffPinsAreCheckedAuditedAndLockedAfterFiveFailures) {
  open(false);
  EXPECT_TRUE(manager_->defaultPinInUse());
  EXPECT_EQ(manager_->authenticate("2468").value_or(""), "staff");
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(manager_->authenticate("0000"));
  EXPECT_FALSE(manager_->authenticate("2468"));  // locked for a minute
  manager_.reset();
  cfg_.kiosk.staffPins = {{"anne", staffPinHash("anne", "7310")}};
  open(false);
  EXPECT_FALSE(manager_->defaultPinInUse());
  EXPECT_FALSE(manager_->authenticate("2468"));
  EXPECT_EQ(manager_->authenticate("7310").value_or(""), "anne");
  EXPECT_NE(audit().find("110114"), std::string::npos);
  EXPECT_NE(audit().find("wrong PIN"), std::string::npos);
}

TEST_F(SessionTest, FinishedSessionsAreForgottenAfterTheRetentionPeriod) {
  {
    auto store = SessionStore::open(cfg_.sessionsDb());
    ASSERT_TRUE(store);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*store)->create("/nowhere/" + std::to_string(i) + ".iso", ""));
    ASSERT_TRUE((*store)->setState(1, SessionState::Rejected));
    ASSERT_TRUE((*store)->setState(2, SessionState::AwaitingConfirmation));
    ASSERT_TRUE((*store)->setState(3, SessionState::Done));
  }
  // Sessions 1 and 2 were last changed 40 days ago; 3 today.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(cfg_.sessionsDb().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE session SET updated = strftime('%Y-%m-%dT%H:%M:%SZ','now','-40 days') WHERE id IN (1, 2)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  cfg_.kiosk.retentionDays = 30;
  open(false);
  EXPECT_FALSE(manager_->session(1));  // finished and old: forgotten
  EXPECT_TRUE(manager_->session(2));   // still waiting for staff: kept however old
  EXPECT_TRUE(manager_->session(3));   // finished today: kept
}

// The trail goes to a real audit record repository (rsyslog, syslog over
// TLS); while the repository is down, records wait and arrive later.
TEST_F(SessionTest, AuditRecordsReachTheRepositoryAndWaitWhileItIsDown) {
  if (!test::RsyslogServer::available()) GTEST_SKIP() << "rsyslog with gtls is not installed";
  test::RsyslogServer syslog(home_ / "syslog");
  std::string err;
  ASSERT_TRUE(syslog.start(err)) << err;
  cfg_.kiosk.auditSyslog = "tls://127.0.0.1:" + std::to_string(syslog.port);
  cfg_.kiosk.auditCaFile = syslog.caFile().string();
  auto until = [](const std::function<bool()>& done) {
    for (int i = 0; i < 200 && !done(); ++i) std::this_thread::sleep_for(50ms);
    return done();
  };
  open(false);
  ASSERT_TRUE(manager_->authenticate("2468"));
  ASSERT_TRUE(until([&] { return syslog.received().find("110114") != std::string::npos; })) << syslog.received();
  const std::string first = syslog.received();
  EXPECT_NE(first.find("<85>1 "), std::string::npos);  // authpriv.notice, RFC 5424
  EXPECT_NE(first.find(" DISCBRIDGE "), std::string::npos);
  EXPECT_NE(first.find(" DICOM+RFC3881 "), std::string::npos);
  EXPECT_NE(first.find("csd-code=\"110120\""), std::string::npos);  // application start came first

  syslog.stop();
  EXPECT_FALSE(manager_->authenticate("1111"));  // recorded while the repository is down
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE(syslog.start(err)) << err;
  ASSERT_TRUE(until([&] { return syslog.received().find("wrong PIN") != std::string::npos; })) << syslog.received();
  EXPECT_NE(syslog.received().find("<84>1 "), std::string::npos);  // a failure is a warning
  manager_.reset();  // the stop record goes too
  EXPECT_TRUE(until([&] { return syslog.received().find("csd-code=\"110121\"") != std::string::npos; }));
  // Each record once, in order.
  const std::string all = syslog.received();
  EXPECT_EQ(all.find("wrong PIN"), all.rfind("wrong PIN"));
  EXPECT_LT(all.find("110120"), all.find("wrong PIN"));
}

TEST_F(SessionTest, AuditRepositoryWithAnUnknownCertificateIsRefused) {
  if (!test::RsyslogServer::available()) GTEST_SKIP() << "rsyslog with gtls is not installed";
  test::RsyslogServer syslog(home_ / "syslog");
  std::string err;
  ASSERT_TRUE(syslog.start(err)) << err;
  AuditEvent e;
  e.type = AuditEventType::Login;
  auto trail = AuditTrail::open((home_ / "audit.log").string(), "test");
  ASSERT_TRUE(trail);
  ASSERT_TRUE((*trail)->record(e));
  uplink::SyslogTarget t{"127.0.0.1", syslog.port, syslog.otherCaFile().string(), "", "", 5};
  AuditForwarder wrongCa((home_ / "audit.log").string(), t, "test");
  auto sent = wrongCa.forwardPending();
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().code, "SYSLOG_TLS_VERIFY");
  EXPECT_EQ(wrongCa.forwarded(), 0);
  t.host = "localhost";  // the right CA, and a name the certificate carries
  t.caFile = syslog.caFile().string();
  AuditForwarder right((home_ / "audit.log").string(), t, "test");
  auto ok = right.forwardPending();
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, 1u);
  EXPECT_EQ(right.forwarded(), 1);
  EXPECT_EQ(*right.forwardPending(), 0u);  // nothing twice
}

TEST(AuditTrailTest, MessagesFollowTheVocabularyAndTheChainShowsTampering) {
  fs::path dir = fs::temp_directory_path() / "discbridge_audit_test";
  fs::remove_all(dir);
  auto file = (dir / "audit.log").string();
  {
    auto trail = AuditTrail::open(file, "DISCBRIDGE@test");
    ASSERT_TRUE(trail);
    AuditEvent e;
    e.type = AuditEventType::Import;
    e.user = "kiosk";
    e.mediaId = "VOL<1>";
    e.patients = {{"EXT123", "ELSEWHERE", "Doe^Jane & \"Co\"", {"1.2.3"}}};
    ASSERT_TRUE((*trail)->record(e));
    e.type = AuditEventType::StudyDeleted;
    ASSERT_TRUE((*trail)->record(e));
  }
  auto v = AuditTrail::verify(file);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->intact);
  EXPECT_EQ(v->records, 2u);
  auto xml = AuditTrail::toXml(AuditEvent{AuditEventType::Import, true, "kiosk", "VOL<1>", "CD", {}, {},
                                          {{"EXT123", "", "A & B", {"1.2.3"}}}, {}},
                               "2026-12-04T10:00:00Z", "SRC");
  EXPECT_NE(xml.find("<EventID csd-code=\"110107\" codeSystemName=\"DCM\""), std::string::npos);
  EXPECT_NE(xml.find("EventActionCode=\"C\""), std::string::npos);
  EXPECT_NE(xml.find("csd-code=\"110155\""), std::string::npos);
  EXPECT_NE(xml.find("UserID=\"VOL&lt;1&gt;\""), std::string::npos);
  EXPECT_NE(xml.find("<ParticipantObjectName>A &amp; B</ParticipantObjectName>"), std::string::npos);
  EXPECT_NE(xml.find("csd-code=\"110180\""), std::string::npos);

  // One changed character anywhere breaks the chain, and so does a removed record.
  std::string text = slurp(file);
  auto pos = text.find("EXT123");
  text[pos] = 'X';
  std::ofstream(file, std::ios::trunc) << text;
  v = AuditTrail::verify(file);
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->intact);
  EXPECT_FALSE(AuditTrail::open(file, "x"));  // never appended to silently
  std::string original = slurp(file);
  std::ofstream(file, std::ios::trunc) << original.substr(original.find('\n') + 1);
  v = AuditTrail::verify(file);
  EXPECT_FALSE(v->intact);
  fs::remove_all(dir);
}

TEST(FolderWatcherTest, ReportsAnImageOnceItStopsGrowingAndIgnoresTheRest) {
  fs::path dir = fs::temp_directory_path() / "discbridge_watch_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  FolderWatcher w(dir.string());
  std::ofstream(dir / "disc.iso") << std::string(1000, 'x');
  std::ofstream(dir / "notes.txt") << "x";
  std::ofstream(dir / ".partial.iso") << "x";
  fs::create_symlink("/etc/passwd", dir / "link.iso");
  EXPECT_TRUE(w.poll().empty());  // first sight: may still be copying
  std::ofstream(dir / "disc.iso", std::ios::app) << std::string(1000, 'y');
  EXPECT_TRUE(w.poll().empty());  // grew
  auto ev = w.poll();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, MediaEvent::Kind::Inserted);
  EXPECT_EQ(fs::path(ev[0].source).filename(), "disc.iso");
  EXPECT_FALSE(ev[0].key.empty());
  EXPECT_TRUE(w.poll().empty());  // once
  fs::remove(dir / "disc.iso");
  ev = w.poll();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, MediaEvent::Kind::Removed);
  fs::remove_all(dir);
}

}  // namespace

namespace {

TEST(DiscOrderTest, InstancesAreCopiedInSectorOrderAcrossStudies) {
  ingest::FileSetReport report;
  report.patients.resize(1);
  auto& p = report.patients[0];
  p.patientId = "P";
  p.studies.resize(2);
  p.studies[0].studyInstanceUid = "S1";
  p.studies[1].studyInstanceUid = "S2";
  auto inst = [](const char* uid, std::uint64_t lsn) {
    ingest::InstanceRef i;
    i.sopInstanceUid = uid;
    i.firstSector = lsn;
    return i;
  };
  p.studies[0].series.push_back({"SE1", "CT", "", "1", {inst("a", 900), inst("b", 300)}});
  p.studies[1].series.push_back({"SE2", "MR", "", "1", {inst("c", 500), inst("d", 100)}});
  auto all = instancesInDiscOrder(report);
  ASSERT_EQ(all.size(), 4u);
  std::string order;
  for (const auto& x : all) order += x.instance->sopInstanceUid;
  EXPECT_EQ(order, "dbca");
  EXPECT_EQ(all[0].study->studyInstanceUid, "S2");
  EXPECT_EQ(all[0].series->seriesInstanceUid, "SE2");
  auto only = instancesInDiscOrder(report, [](const auto&, const auto& s) { return s.studyInstanceUid == "S1"; });
  ASSERT_EQ(only.size(), 2u);
  EXPECT_EQ(only[0].instance->sopInstanceUid, "b");
  uplink::SpooledInstance sp{"/spool/x.dcm", "abc", 42};
  auto row = instanceRow(all[0], sp);
  EXPECT_EQ(row.sopInstanceUid, "d");
  EXPECT_EQ(row.studyUid, "S2");
  EXPECT_EQ(row.foreignPatientId, "P");
  EXPECT_EQ(row.spoolPath, "/spool/x.dcm");
  EXPECT_EQ(row.size, 42u);
}

}  // namespace
