// Kiosk sessions: one per disc, from insertion to delivery. The state machine
// lives here (no Qt); every transition is a committed SQLite transaction, so
// a restarted kiosk resumes each session where it was.
//
//   (waiting for media) -> reading -> spooled (disc ejected)
//     -> awaiting_confirmation -> queued -> delivering -> done
//   failures: unreadable, no_dicom (the disc goes back, see the front desk),
//             delivery_failed (staff retry), rejected (staff; spool purged)
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "discbridge/ingest/result.h"
#include "discbridge/kiosk/config.h"
#include "discbridge/reconcile/matcher.h"

namespace discbridge::kiosk {

enum class SessionState {
  Reading,
  Spooled,
  AwaitingConfirmation,
  Queued,
  Delivering,
  Done,
  Unreadable,
  NoDicom,
  DeliveryFailed,
  Rejected,
};
const char* sessionStateName(SessionState s);
std::optional<SessionState> parseSessionState(const std::string& s);
// Staff may reject a disc in these states (its data is then purged).
bool rejectable(SessionState s);

struct StudySummary {
  std::string uid, date, description, modalities;
  std::size_t series = 0, instances = 0;
  std::string thumbnail;  // a PGM/PPM file, empty when none could be rendered
};

struct PatientSummary {
  std::string patientId, issuer, name, birthDate, sex;
  std::vector<StudySummary> studies;
  std::vector<std::string> conflicts;  // same ID, different demographics on the disc
};

struct SessionProgress {
  std::uint64_t filesDone = 0, filesTotal = 0;
  std::uint64_t bytesDone = 0, bytesTotal = 0;
  double bytesPerSecond = 0;
  double secondsLeft = -1;  // unknown
};

struct SessionInfo {
  std::int64_t id = 0;
  SessionState state = SessionState::Reading;
  std::string source, mediumKind, volumeId, receipt, created, updated;
  SessionProgress progress;
  std::string message;  // the failure and what to do about it
  std::vector<PatientSummary> patients;
  std::size_t instances = 0;
  std::size_t findings = 0;
  bool patientDisowned = false;  // the patient said this is not their disc
  std::string confirmedBy;
  std::vector<std::string> destinations;
  std::vector<std::int64_t> jobs;
  std::vector<std::pair<std::string, std::int64_t>> deliveryCounts;  // outbox state -> rows
  std::vector<std::string> deliveryErrors;
};

struct PatientCandidates {
  PatientSummary disc;
  std::vector<reconcile::Candidate> candidates;
};

struct Confirmation {
  std::map<std::string, std::string> mrnByPatientId;  // disc patient ID -> local MRN; others are not imported
  std::vector<std::string> destinations;
  std::string accessionPolicy;  // keep | clear | replace; empty: the configuration's
  std::string staffUser;
};

class SessionManager {
 public:
  using Listener = std::function<void(const SessionInfo&)>;
  struct Options {
    bool deliver = true;  // run the outbox worker and commitment listener in this process
    bool watch = true;    // watch drives and the ISO folder
  };

  static Result<std::unique_ptr<SessionManager>> open(const Config& cfg, Options options);
  static Result<std::unique_ptr<SessionManager>> open(const Config& cfg) { return open(cfg, Options{}); }
  ~SessionManager();

  // Called from the kiosk's worker threads on every change of a session
  // (progress included); must not block.
  void setListener(Listener listener);
  void start();
  void stop();

  // Reads a source (image, folder, device) as a new session.
  void submit(const std::string& source);

  // Quick reads of the session database, from any thread.
  std::vector<SessionInfo> sessions();
  std::optional<SessionInfo> session(std::int64_t id);

  // Staff actions. They may wait on the patient directory, the database or
  // the disk: a screen calls them through post(), never on its own thread.
  Result<std::vector<PatientCandidates>> candidates(std::int64_t id, const std::string& staffUser);
  Result<std::vector<reconcile::Candidate>> search(const std::string& text, const std::string& staffUser);
  Result<void> confirm(std::int64_t id, const Confirmation& confirmation);
  Result<void> reject(std::int64_t id, const std::string& staffUser, const std::string& reason);
  Result<void> retry(std::int64_t id, const std::string& staffUser);
  // A local patient found by search, scored against a disc patient with the
  // configured thresholds, for staff to compare field by field.
  reconcile::Candidate compare(const PatientSummary& disc, const reconcile::LocalPatient& local) const;
  // The patient pressed "this is not my disc": flagged for staff.
  Result<void> disown(std::int64_t id);

  // A staff PIN: the user it belongs to, or nothing (audited either way).
  // Five failures in a row lock the keypad for a minute.
  std::optional<std::string> authenticate(const std::string& pin);
  void logout(const std::string& user);
  bool defaultPinInUse() const;
  std::vector<std::string> destinationChoices() const;
  const Config& config() const;

  // Runs fn on the kiosk's action worker, in order.
  void post(std::function<void()> fn);

  struct Impl;

 private:
  explicit SessionManager(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// SHA-256 (hex) of "user:PIN", the form [kiosk.staff] stores.
std::string staffPinHash(const std::string& user, const std::string& pin);

}  // namespace discbridge::kiosk
