// The one configuration file, parsed into a typed struct at start-up and
// passed down. Every field has an embedded default, so no file is needed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <map>
#include <vector>

#include "discbridge/ingest/result.h"
#include "discbridge/uplink/delivery.h"
#include "discbridge/uplink/syslog.h"

namespace discbridge::kiosk {

struct IngestConfig {
  std::uint64_t inMemoryLimitMb = 32;  // larger files are staged under data_dir/tmp
  std::uint64_t readAheadMb = 48;
  int readRetries = 3;
  unsigned parserThreads = 0;  // 0: one per spare core
};

struct MpiConfig {
  std::string backend = "sqlite";  // sqlite | worklist
  std::string database;            // empty: <data_dir>/mpi.sqlite
  std::string defaultIssuer;       // for MRNs imported without one
};

struct WorklistSettings {
  std::string host = "127.0.0.1";
  int port = 104;
  std::string calledAe = "WORKLIST";
  std::string callingAe = "DISCBRIDGE";
  int timeoutSeconds = 10;
  bool todayOnly = true;
};

struct MatchConfig {
  double strong = 0.90;
  double possible = 0.70;
  double minimum = 0.40;
  unsigned maxCandidates = 10;
};

struct CoercionConfig {
  std::string accessionPolicy = "keep";  // keep | clear | replace
  std::string modifyingSystem = "DISCBRIDGE";
  std::string issuerUniversalId;
  std::string issuerUniversalIdType = "ISO";
};

struct DeliveryConfig {
  std::string spoolDir;   // empty: <data_dir>/spool
  std::string outboxDb;   // empty: <data_dir>/outbox.sqlite
  std::string aeTitle = "DISCBRIDGE";  // our calling AE and storage commitment AE
  int listenerPort = 11113;            // storage commitment reports
  std::map<std::string, uplink::PacsDestination> pacs;    // [destinations.NAME], type = "dicom"
  std::map<std::string, uplink::CloudDestination> cloud;  // [destinations.NAME], type = "dicomweb"
  // For --to https://... without a configuration entry.
  std::string urlCaFile, urlUser, urlToken;
};

// The touch-screen kiosk: where discs come from, the screens' timers, staff.
struct KioskConfig {
  std::string watchFolder;     // ISO images placed here become sessions; empty: none
  bool watchDrives = true;     // optical drives (libcdio): media inserted / removed
  int pollMilliseconds = 1000;
  int idleSeconds = 60;        // a patient screen returns to the welcome screen
  int receiptSeconds = 20;     // how long "please take your disc" stays
  int staffIdleSeconds = 300;  // staff are logged out after this
  int retentionDays = 30;      // finished sessions (names, receipt codes) are forgotten after this
  // user -> SHA-256 (hex) of "user:PIN"; empty: one user "staff" with PIN 2468
  // and a warning on every staff screen.
  std::map<std::string, std::string> staffPins;
  std::vector<std::string> destinations;  // offered when confirming; empty: every configured one
  std::string auditFile;                  // empty: <data_dir>/audit.log
  std::string auditSourceId;              // empty: DISCBRIDGE@<host name>
  // The audit record repository: tls://host[:port] (syslog over TLS,
  // RFC 5425); empty: the local trail only.
  std::string auditSyslog;
  std::string auditCaFile, auditCertFile, auditKeyFile;
};

struct Config {
  std::string configFile;  // the file read, empty when running on defaults
  std::string dataDir;
  std::string logLevel = "warn";
  IngestConfig ingest;
  MpiConfig mpi;
  WorklistSettings worklist;
  MatchConfig match;
  CoercionConfig coercion;
  DeliveryConfig delivery;
  KioskConfig kiosk;

  std::string mpiDatabase() const { return mpi.database.empty() ? dataDir + "/mpi.sqlite" : mpi.database; }
  std::string spoolDir() const { return delivery.spoolDir.empty() ? dataDir + "/spool" : delivery.spoolDir; }
  std::string outboxDb() const { return delivery.outboxDb.empty() ? dataDir + "/outbox.sqlite" : delivery.outboxDb; }
  std::string auditFile() const { return kiosk.auditFile.empty() ? dataDir + "/audit.log" : kiosk.auditFile; }
  std::string auditSourceId() const;
  Result<uplink::SyslogTarget> auditTarget() const;
  std::string sessionsDb() const { return dataDir + "/sessions.sqlite"; }
  // A destination by name, or a dicom://, dicoms:// or https:// URL.
  Result<uplink::Destination> destination(const std::string& nameOrUrl) const;
};

struct ConfigSources {
  std::optional<std::string> configFile;  // --config
  std::optional<std::string> dataDir;     // --data-dir
  bool service = false;                   // running as the system service
};

// --config FILE, else $DISCBRIDGE_CONFIG, else /etc/discbridge/discbridge.toml
// when it exists, else defaults. --data-dir, else $DISCBRIDGE_HOME, else the
// file's data_dir, else /var/lib/discbridge (service) or the XDG data dir.
Result<Config> loadConfig(const ConfigSources& sources);

}  // namespace discbridge::kiosk
