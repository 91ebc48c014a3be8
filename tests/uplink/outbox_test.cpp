// The outbox state machine on a real SQLite database.
#include "discbridge/uplink/cloud.h"
#include "discbridge/uplink/outbox.h"
#include "discbridge/uplink/pacs.h"
#include "discbridge/uplink/spool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace discbridge::uplink {
namespace {

namespace fs = std::filesystem;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() / ("outbox_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".sqlite");
    fs::remove(path_);
    auto o = Outbox::open(path_.string());
    ASSERT_TRUE(o.ok()) << o.error().message;
    outbox_ = std::move(*o);
    JobSpec spec;
    spec.source = "disc.iso";
    spec.destinations = {"pacs", "backup"};
    PatientMapping m;
    m.foreignId = "EXT1";
    m.plan.local.mrn = "100001";
    m.plan.local.name.family = "Doe";
    spec.mappings.push_back(m);
    auto job = outbox_->createJob(spec);
    ASSERT_TRUE(job.ok());
    job_ = *job;
    std::vector<InstanceRow> rows;
    for (int i = 1; i <= 3; ++i) {
      InstanceRow r;
      r.sopInstanceUid = "1.2.3." + std::to_string(i);
      r.sopClassUid = "1.2.840.10008.5.1.4.1.1.2";
      r.transferSyntaxUid = "1.2.840.10008.1.2.1";
      r.studyUid = "1.2.3";
      r.seriesUid = "1.2.3.0";
      r.foreignPatientId = "EXT1";
      r.spoolPath = "/spool/" + std::to_string(i);
      r.sha256 = "x";
      rows.push_back(r);
    }
    ASSERT_TRUE(outbox_->addInstances(job_, rows).ok());
  }
  void TearDown() override {
    outbox_.reset();
    fs::remove(path_);
    fs::remove(path_.string() + "-wal");
    fs::remove(path_.string() + "-shm");
  }
  std::int64_t count(const std::string& state) {
    auto st = outbox_->status(job_);
    for (const auto& [s, n] : st->front().counts) {
      if (s == state) return n;
    }
    return 0;
  }
  fs::path path_;
  std::unique_ptr<Outbox> outbox_;
  std::int64_t job_ = 0;
};

TEST_F(OutboxTest, NothingIsDeliveredBeforeTheJobIsQueued) {
  EXPECT_TRUE(outbox_->claim("pacs", 10)->empty());
  ASSERT_TRUE(outbox_->queueJob(job_).ok());
  EXPECT_EQ(count("queued"), 6);  // 3 instances x 2 destinations
  auto rows = outbox_->claim("pacs", 10);
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].instance.foreignPatientId, "EXT1");
  EXPECT_EQ(count("sending"), 3);
  auto maps = outbox_->mappings(job_);
  ASSERT_EQ(maps->size(), 1u);
  EXPECT_EQ(maps->front().plan.local.mrn, "100001");
}

TEST_F(OutboxTest, InterruptedRowsAreQueuedAgain) {
  ASSERT_TRUE(outbox_->queueJob(job_).ok());
  ASSERT_EQ(outbox_->claim("pacs", 10)->size(), 3u);
  // A new process opens the same database after a crash.
  outbox_.reset();
  outbox_ = std::move(*Outbox::open(path_.string()));
  EXPECT_EQ(*outbox_->recoverInterrupted(), 3);
  EXPECT_EQ(count("queued"), 6);
}

TEST_F(OutboxTest, RetriesBackOffThenFail) {
  ASSERT_TRUE(outbox_->queueJob(job_).ok());
  auto rows = *outbox_->claim("pacs", 10);
  std::vector<std::int64_t> ids;
  for (const auto& r : rows) ids.push_back(r.id);
  ASSERT_TRUE(outbox_->markRetry(ids, "association refused", 2).ok());
  EXPECT_EQ(count("queued"), 6);
  EXPECT_TRUE(outbox_->claim("pacs", 10)->empty());  // backing off
  ASSERT_TRUE(outbox_->markRetry(ids, "association refused", 1).ok());
  EXPECT_EQ(count("failed"), 3);
  auto st = outbox_->status(job_);
  ASSERT_EQ(st->front().errors.size(), 1u);
  EXPECT_EQ(st->front().errors[0], "association refused");
  EXPECT_EQ(*outbox_->retryFailed(job_), 3);
  EXPECT_EQ(count("failed"), 0);
}

TEST_F(OutboxTest, CommitmentAndSpoolRelease) {
  ASSERT_TRUE(outbox_->queueJob(job_).ok());
  for (const char* dest : {"pacs", "backup"}) {
    auto rows = *outbox_->claim(dest, 10);
    std::vector<std::int64_t> ids;
    for (const auto& r : rows) ids.push_back(r.id);
    ASSERT_TRUE(outbox_->markStored(ids, std::string("tx-") + dest).ok());
  }
  EXPECT_TRUE(outbox_->takeFinishedSpoolFiles()->empty());
  ASSERT_TRUE(outbox_->commitmentResult("tx-pacs", {"1.2.3.1", "1.2.3.2"}, {"1.2.3.3"}).ok());
  EXPECT_EQ(count("committed"), 2);
  EXPECT_EQ(count("queued"), 1);  // refused commitment goes back
  EXPECT_TRUE(outbox_->takeFinishedSpoolFiles()->empty());  // backup has not committed yet
  ASSERT_TRUE(outbox_->commitmentResult("tx-backup", {"1.2.3.1", "1.2.3.2", "1.2.3.3"}, {}).ok());
  auto files = *outbox_->takeFinishedSpoolFiles();
  EXPECT_EQ(files.size(), 2u);  // 1.2.3.3 still owed to pacs
  EXPECT_TRUE(outbox_->takeFinishedSpoolFiles()->empty());  // handed out once
  EXPECT_FALSE(*outbox_->jobSettled(job_));
}

TEST_F(OutboxTest, PurgeRemovesTheJob) {
  ASSERT_TRUE(outbox_->queueJob(job_).ok());
  auto paths = outbox_->purge(job_);
  ASSERT_TRUE(paths.ok());
  EXPECT_EQ(paths->size(), 3u);
  EXPECT_TRUE(outbox_->status(job_)->empty());
  EXPECT_FALSE(outbox_->purge(job_).ok());
}

TEST(DicomUrl, Parses) {
  auto d = parseDicomUrl("dicom://ORTHANC@127.0.0.1:4242");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->calledAe, "ORTHANC");
  EXPECT_EQ(d->host, "127.0.0.1");
  EXPECT_EQ(d->port, 4242);
  EXPECT_FALSE(d->tls);
  EXPECT_TRUE(parseDicomUrl("dicoms://PACS@pacs.example:2762")->tls);
  EXPECT_FALSE(parseDicomUrl("http://x").ok());
  EXPECT_FALSE(parseDicomUrl("dicom://host:104").ok());
  EXPECT_FALSE(parseDicomUrl("dicom://AE@host:notaport").ok());
  EXPECT_FALSE(parseDicomUrl("dicom://WAY_TOO_LONG_AE_TITLE@host:104").ok());
}

TEST(StowResponse, OneFailedInstanceDoesNotFailTheBatch) {
  // PS3.18 STOW-RS response in DICOM JSON: two stored (one with a warning),
  // one failed with Failure Reason 0xC122 (0x...: final), one out of resources.
  std::string body = R"({
    "00081199": {"vr": "SQ", "Value": [
      {"00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]}, "00081155": {"vr": "UI", "Value": ["1.1"]}},
      {"00081155": {"vr": "UI", "Value": ["1.2"]}, "00081196": {"vr": "US", "Value": [45056]}}]},
    "00081198": {"vr": "SQ", "Value": [
      {"00081155": {"vr": "UI", "Value": ["1.3"]}, "00081197": {"vr": "US", "Value": [49442]}},
      {"00081155": {"vr": "UI", "Value": ["1.4"]}, "00081197": {"vr": "US", "Value": [42752]}}]}})";
  auto out = parseStowResponse(body, 202, {"1.1", "1.2", "1.3", "1.4", "1.5"});
  ASSERT_EQ(out.size(), 5u);
  EXPECT_TRUE(out[0].stored);
  EXPECT_TRUE(out[1].stored);
  EXPECT_NE(out[1].reason.find("B000"), std::string::npos);
  EXPECT_FALSE(out[2].stored);
  EXPECT_FALSE(out[2].retryable);
  EXPECT_NE(out[2].reason.find("C122"), std::string::npos);
  EXPECT_FALSE(out[3].stored);
  EXPECT_TRUE(out[3].retryable);  // A700: out of resources
  EXPECT_FALSE(out[4].stored);    // not mentioned: not taken as stored
}

TEST(StowResponse, NativeDicomModelXml) {
  std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<NativeDicomModel>
 <DicomAttribute tag="00081190" vr="UR" keyword="RetrieveURL"><Value number="1">http://x</Value></DicomAttribute>
 <DicomAttribute tag="00081199" vr="SQ" keyword="ReferencedSOPSequence">
  <Item number="1"><DicomAttribute tag="00081155" vr="UI" keyword="ReferencedSOPInstanceUID"><Value number="1">1.1</Value></DicomAttribute></Item>
 </DicomAttribute>
 <DicomAttribute tag="00081198" vr="SQ" keyword="FailedSOPSequence">
  <Item number="1"><DicomAttribute tag="00081155" vr="UI"><Value number="1">1.2</Value></DicomAttribute>
   <DicomAttribute tag="00081197" vr="US"><Value number="1">272</Value></DicomAttribute></Item>
 </DicomAttribute>
</NativeDicomModel>)";
  auto out = parseStowResponse(xml, 202, {"1.1", "1.2"});
  EXPECT_TRUE(out[0].stored);
  EXPECT_FALSE(out[1].stored);
  EXPECT_NE(out[1].reason.find("0110"), std::string::npos);
}

TEST(StowResponse, StatusAloneWhenTheBodyIsEmpty) {
  auto ok = parseStowResponse("", 200, {"1.1"});
  EXPECT_TRUE(ok[0].stored);
  auto conflict = parseStowResponse("not json", 409, {"1.1"});
  EXPECT_FALSE(conflict[0].stored);
  EXPECT_NE(conflict[0].reason.find("409"), std::string::npos);
}

}  // namespace
}  // namespace discbridge::uplink

// The digest recorded for a spool copy is that of the bytes on disk (computed
// while copying), and the copy's preamble is zeroed.
TEST(SpoolTest, DigestIsOfTheCopyAsWritten) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "discbridge_spool_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "medium");
  std::string body(128, 'X');  // a preamble carrying something
  body += "DICM";
  for (int i = 0; i < 300000; ++i) body.push_back(static_cast<char>(i * 7));
  std::ofstream(dir / "medium" / "IM1", std::ios::binary) << body;
  auto medium = discbridge::ingest::openMedium((dir / "medium").string());
  ASSERT_TRUE(medium);
  discbridge::ingest::InstanceRef inst;
  inst.path = "IM1";
  inst.size = body.size();
  inst.sopInstanceUid = "1.2.3.4";
  discbridge::uplink::Spool spool((dir / "spool").string());
  auto copy = spool.addTo(**medium, inst, "session-1");
  ASSERT_TRUE(copy) << copy.error().message;
  EXPECT_EQ(copy->size, body.size());
  auto onDisk = discbridge::uplink::Spool::sha256File(copy->path);
  ASSERT_TRUE(onDisk);
  EXPECT_EQ(copy->sha256, *onDisk);
  EXPECT_TRUE(discbridge::uplink::Spool::verify(copy->path, copy->sha256));
  std::ifstream in(copy->path, std::ios::binary);
  std::string head(132, '\0');
  in.read(head.data(), 132);
  EXPECT_EQ(head.substr(0, 128), std::string(128, '\0'));
  EXPECT_EQ(head.substr(128), "DICM");
  spool.removeFolder("session-1");
  EXPECT_FALSE(fs::exists(dir / "spool" / "session-1"));
  spool.removeFolder("..");  // never outside the spool
  EXPECT_TRUE(fs::exists(dir / "medium" / "IM1"));
  fs::remove_all(dir);
}
