// The durable outbox (SQLite, WAL): import jobs and one delivery row per
// instance and destination. Every state change is a committed transaction
// before anything acts on it; a restart resumes where the process stopped.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "discbridge/ingest/result.h"
#include "discbridge/reconcile/coercion.h"

namespace discbridge::uplink {

// queued -> sending -> stored -> committed, or delivered when the destination
// offers no storage commitment; present: the PACS held it already.
enum class DeliveryState { Queued, Sending, Stored, Committed, Delivered, Present, Failed };
const char* stateName(DeliveryState s);
std::optional<DeliveryState> parseState(const std::string& s);
bool isFinalSuccess(DeliveryState s);

struct PatientMapping {
  std::string foreignId;
  std::string foreignIssuer;
  reconcile::CoercionPlan plan;
};

struct JobSpec {
  std::string source;
  std::string volumeId;
  std::string confirmedBy;
  std::vector<std::string> destinations;
  std::vector<PatientMapping> mappings;
};

struct InstanceRow {
  std::int64_t id = 0;
  std::int64_t job = 0;
  std::string sopInstanceUid, sopClassUid, transferSyntaxUid, studyUid, seriesUid;
  std::string foreignPatientId, foreignIssuer;
  std::string spoolPath, sha256;
  std::uint64_t size = 0;
};

struct DeliveryRow {
  std::int64_t id = 0;
  InstanceRow instance;
  std::string destination;
  DeliveryState state = DeliveryState::Queued;
  int attempts = 0;
  std::string lastError;
  std::string transactionUid;
};

struct JobStatus {
  std::int64_t id = 0;
  std::string created, source, volumeId, confirmedBy, state;
  std::vector<std::string> destinations;
  std::vector<std::pair<std::string, std::int64_t>> counts;  // state -> rows
  std::vector<std::string> errors;                           // distinct last errors of failed rows
  std::vector<std::string> studyUids;
};

class Outbox {
 public:
  static Result<std::unique_ptr<Outbox>> open(const std::string& path);
  ~Outbox();

  Result<std::int64_t> createJob(const JobSpec& spec);
  // Options given on the command line for a URL destination (CA file,
  // credentials), kept so that `serve` can deliver after a restart. The
  // database lives in the data directory, readable by the service only.
  Result<void> saveUrlOptions(const std::string& url, const std::string& optionsJson);
  Result<std::string> urlOptions(const std::string& url);
  Result<void> addInstances(std::int64_t job, std::vector<InstanceRow>& rows);
  // Instances whose spool copies are on disk: their delivery rows (one per
  // destination) are created, so delivery can start while spooling goes on.
  Result<void> queueInstances(std::int64_t job, const std::vector<InstanceRow>& rows);
  // Spooling is complete: every instance has its delivery rows.
  Result<void> queueJob(std::int64_t job);
  Result<std::vector<PatientMapping>> mappings(std::int64_t job);

  // Rows left "sending" by a process that died go back to the queue.
  Result<int> recoverInterrupted();
  // Takes up to max due rows of one destination, marking them sending.
  Result<std::vector<DeliveryRow>> claim(const std::string& destination, std::size_t max);
  Result<std::vector<std::string>> destinationsWithWork();

  Result<void> markStored(const std::vector<std::int64_t>& rows, const std::string& transactionUid);
  Result<void> markFinal(const std::vector<std::int64_t>& rows, DeliveryState state);
  // A transient failure: back to the queue after a backoff, or failed for
  // good once maxAttempts is reached.
  Result<void> markRetry(const std::vector<std::int64_t>& rows, const std::string& error, int maxAttempts);
  // A transient failure with the server's own wait (HTTP Retry-After).
  Result<void> markRetryAfter(const std::vector<std::int64_t>& rows, const std::string& error, int seconds,
                              int maxAttempts);
  Result<void> markFailed(const std::vector<std::int64_t>& rows, const std::string& error);
  // Storage commitment result for a transaction.
  Result<void> commitmentResult(const std::string& transactionUid, const std::vector<std::string>& committedSopUids,
                                const std::vector<std::string>& failedSopUids);
  // How many rows of a transaction still wait for the PACS's report.
  Result<std::int64_t> awaitingCommitment(const std::string& transactionUid);
  // Stored rows whose commitment did not come within the timeout.
  Result<std::vector<DeliveryRow>> overdueCommitments(int olderThanSeconds);
  // A new storage commitment request for stored rows (counts as an attempt).
  Result<void> markCommitRequested(const std::vector<std::int64_t>& rows, const std::string& transactionUid);

  // Spool files every destination has confirmed; the caller deletes them.
  Result<std::vector<std::string>> takeFinishedSpoolFiles();
  Result<std::vector<JobStatus>> status(std::optional<std::int64_t> job = std::nullopt);
  Result<int> retryFailed(std::int64_t job);
  Result<std::vector<std::string>> purge(std::int64_t job);  // returns spool paths to delete
  // True when no row of the job is queued, sending or waiting for commitment.
  Result<bool> jobSettled(std::int64_t job);
  Result<bool> jobSucceeded(std::int64_t job);

 public:
  struct Impl;

 private:
  explicit Outbox(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace discbridge::uplink
