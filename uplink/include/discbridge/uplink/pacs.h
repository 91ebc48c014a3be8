// A PACS as destination: DICOM C-STORE (DCMTK's DcmSCU) with our own TCP
// options, the C-FIND pre-check, and storage commitment (N-ACTION, with the
// N-EVENT-REPORT received by CommitmentListener).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "discbridge/ingest/result.h"

class DcmDataset;

namespace discbridge::uplink {

struct PacsDestination {
  std::string name;  // as stored in the outbox
  std::string host = "127.0.0.1";
  int port = 104;
  std::string calledAe = "PACS";
  std::string callingAe = "DISCBRIDGE";
  bool tls = false;
  std::string caFile;  // TLS: trusted CA (verification is always on)
  std::string certFile, keyFile;  // TLS client certificate, optional
  int timeoutSeconds = 30;
  int associations = 3;  // parallel associations per destination (measured best here: docs/delivery.md)
  bool storageCommitment = true;
  int commitTimeoutSeconds = 60;
  // Listen for the N-EVENT-REPORT on the storing association before releasing
  // it (for a PACS that reports there). Off by default: Orthanc reports on a
  // new association to our listener, and waiting here delays that report.
  bool commitmentOnAssociation = false;
  int maxAttempts = 20;  // with backoff capped at 5 min: over an hour of retrying
  bool tcpNoDelay = true;   // disable Nagle on our sockets
  bool tcpQuickAck = true;  // re-armed after every read (Linux)
};

// dicom://CALLED_AE@host:port or dicoms://... (TLS).
Result<PacsDestination> parseDicomUrl(const std::string& url);

enum class StoreResult { Stored, Transient, Permanent };

struct StoreOutcome {
  StoreResult result = StoreResult::Transient;
  unsigned status = 0;
  std::string message;
};

struct SopRef {
  std::string sopClassUid;
  std::string sopInstanceUid;
  std::string transferSyntaxUid;
};

// One association to the PACS.
class PacsAssociation {
 public:
  // Presentation contexts for the given classes and transfer syntaxes (own
  // syntax first, uncompressed as fallback), plus storage commitment.
  static Result<std::unique_ptr<PacsAssociation>> open(const PacsDestination& dest, const std::vector<SopRef>& content,
                                                       bool forFind = false);
  ~PacsAssociation();

  // Sends one dataset; decompresses losslessly only when the PACS refused the
  // instance's own transfer syntax.
  StoreOutcome store(DcmDataset& dataset, const SopRef& ref);
  // Which of a study's SOP Instance UIDs the PACS holds (study, then image level).
  Result<std::set<std::string>> present(const std::string& studyUid);
  // false when the PACS did not accept storage commitment.
  Result<bool> requestCommitment(const std::string& transactionUid, const std::vector<SopRef>& refs);

  struct CommitReport {
    std::string transactionUid;
    std::vector<std::string> committed, failed;
  };
  // A storage commitment report the PACS sends on this association (some
  // do; others open one to our listener). nullopt when none came in time.
  std::optional<CommitReport> awaitReport(int timeoutSeconds);

 private:
  struct Impl;
  explicit PacsAssociation(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Receives storage commitment N-EVENT-REPORTs on our own AE title and port.
class CommitmentListener {
 public:
  using Handler = std::function<void(const std::string& transactionUid, const std::vector<std::string>& committed,
                                     const std::vector<std::string>& failed)>;
  CommitmentListener(std::string aeTitle, int port, Handler handler);
  ~CommitmentListener();
  Result<void> start();
  void stop();
  bool running() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace discbridge::uplink
