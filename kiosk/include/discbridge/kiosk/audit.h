// The audit trail: every event that touches patient data, as a DICOM audit
// message (PS3.15 Annex A.5, IHE ATNA vocabulary), appended to a local file
// in which each record carries the hash of the one before (tamper-evident).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "discbridge/ingest/result.h"
#include "discbridge/uplink/syslog.h"

namespace discbridge::kiosk {

enum class AuditEventType {
  ApplicationStart,      // 110100 / 110120
  ApplicationStop,       // 110100 / 110121
  Import,                // 110107, a disc read into the spool
  InstancesTransferred,  // 110104, instances sent to a destination
  Query,                 // 110112, a patient directory look-up
  Login,                 // 110114 / 110122
  Logout,                // 110114 / 110123
  StudyDeleted,          // 110105, spooled data purged or a disc rejected
  PatientRecord,         // 110110, a disc patient confirmed as a local patient
};

struct AuditPatient {
  std::string id;
  std::string issuer;
  std::string name;
  std::vector<std::string> studyUids;
};

struct AuditEvent {
  AuditEventType type = AuditEventType::Import;
  bool success = true;
  std::string user;  // the person (staff user) or "kiosk" for the machine itself
  std::string mediaId, mediaType;  // Import: the volume ID; "CD" or "DVD"
  std::string destination;         // transfers: AE@host or URL; queries: the directory
  std::string query;               // Query: what was asked
  std::vector<AuditPatient> patients;
  std::string detail;  // outcome description or reason
};

struct AuditVerification {
  std::size_t records = 0;
  bool intact = true;
  std::string problem;  // where the chain breaks
};

class AuditTrail {
 public:
  // sourceId names this kiosk in every message (AuditSourceID).
  static Result<std::unique_ptr<AuditTrail>> open(const std::string& path, std::string sourceId);
  // Appends one record and flushes it to disk before returning.
  Result<void> record(const AuditEvent& event);
  const std::string& path() const { return path_; }

  // The DICOM audit message (XML) of one event.
  static std::string toXml(const AuditEvent& event, const std::string& dateTime, const std::string& sourceId);
  // Re-computes the hash chain of a trail file.
  static Result<AuditVerification> verify(const std::string& path);

 private:
  AuditTrail(std::string path, std::string sourceId, long long seq, std::string lastHash);
  std::mutex mu_;
  std::string path_, sourceId_;
  long long seq_;
  std::string lastHash_;
};

// Forwards the trail's records, in order, to an audit record repository by
// syslog over TLS. How far it got is kept beside the trail
// (<trail>.forwarded: last sequence number and byte offset), so what the
// collector has not taken stays queued in the trail itself, across restarts.
class AuditForwarder {
 public:
  AuditForwarder(std::string trailPath, uplink::SyslogTarget target, std::string hostName);
  ~AuditForwarder();
  // Sends what is new, up to maxRecords; returns how many went.
  Result<std::size_t> forwardPending(std::size_t maxRecords = 500);
  long long forwarded() const { return seq_; }

 private:
  std::string trail_, state_, host_;
  uplink::SyslogTlsClient client_;
  long long seq_ = 0;
  long long offset_ = 0;
};

}  // namespace discbridge::kiosk
