// The sessions' durable state (SQLite, WAL): one row per disc session and one
// per instance copied into the spool for it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "discbridge/kiosk/session.h"
#include "discbridge/uplink/outbox.h"

struct sqlite3;

namespace discbridge::kiosk {

class SessionStore {
 public:
  static Result<std::unique_ptr<SessionStore>> open(const std::string& path);
  ~SessionStore();

  // A new session in state reading, with a receipt code no other session has.
  Result<std::int64_t> create(const std::string& source, const std::string& sourceKey);
  bool knownSourceKey(const std::string& key);
  Result<void> setState(std::int64_t id, SessionState state, const std::string& message = {});
  Result<void> setProgress(std::int64_t id, const SessionProgress& p);
  Result<void> setContent(std::int64_t id, const std::string& mediumKind, const std::string& volumeId,
                          const std::vector<PatientSummary>& patients, std::size_t instances, std::size_t findings);
  Result<void> setThumbnail(std::int64_t id, const std::string& studyUid, const std::string& file);
  // Instances copied to the spool; rows carry the spool path and digest.
  Result<void> addInstances(std::int64_t id, const std::vector<uplink::InstanceRow>& rows);
  Result<std::vector<uplink::InstanceRow>> instances(std::int64_t id);
  Result<void> clearInstances(std::int64_t id);
  Result<void> setConfirmed(std::int64_t id, const std::string& by, const std::vector<std::string>& destinations,
                            const std::vector<std::int64_t>& jobs);
  Result<void> setDisowned(std::int64_t id);
  Result<void> setDeliveryAudited(std::int64_t id);
  bool deliveryAudited(std::int64_t id);

  std::optional<SessionInfo> get(std::int64_t id);
  // Newest first; finished sessions older than a day are left out.
  std::vector<SessionInfo> list();
  std::vector<std::int64_t> inStates(const std::vector<SessionState>& states);
  // Forgets finished sessions (done, rejected, unreadable, no DICOM) last
  // changed more than `days` ago; returns their ids.
  Result<std::vector<std::int64_t>> forgetFinished(int days);

 private:
  explicit SessionStore(sqlite3* db);
  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace discbridge::kiosk
