#include "discbridge/kiosk/cli.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli_common.h"
#include "discbridge/ingest/library_logs.h"
#include "discbridge/kiosk/config.h"

namespace discbridge::kiosk {
namespace {

struct Globals {
  std::string configFile;
  std::string dataDir;
  int verbose = 0;
};

void setUpLogging(const Config& cfg, int verbose) {
  auto logger = spdlog::stderr_color_mt("discbridge");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern(verbose > 0 ? "%H:%M:%S.%e %^%l%$: %v" : "%^%l%$: %v");
  auto level = spdlog::level::from_str(cfg.logLevel);
  if (verbose == 1) level = spdlog::level::info;
  if (verbose >= 2) level = spdlog::level::debug;
  spdlog::set_level(level);
  ingest::routeLibraryLogs(verbose >= 2 ? ingest::LibraryLogLevel::Debug : ingest::LibraryLogLevel::Off,
                           [](const char* lib, const std::string& msg) { spdlog::debug("{}: {}", lib, msg); });
}

}  // namespace

int runCli(int argc, char** argv) {
  CLI::App app{"DiscBridge: reads patient imaging discs, checks and repairs them, and imports them."};
  app.set_version_flag("--version", "discbridge 0.1.0");
  app.require_subcommand(1);
  Globals g;
  app.add_option("--config", g.configFile, "configuration file (else $DISCBRIDGE_CONFIG, else /etc/discbridge/discbridge.toml)");
  app.add_option("--data-dir", g.dataDir, "data directory (else $DISCBRIDGE_HOME, else the XDG data dir)");
  app.add_flag("-v,--verbose", g.verbose, "more log output (-vv: debug, with library messages)");

  std::string source;
  std::string out;
  bool json = false;
  auto* scan = app.add_subcommand("scan", "read and check a medium, report what is on it");
  scan->add_option("SOURCE", source, "image file, drive (/dev/sr0 or drive:) or directory")->required();
  scan->add_flag("--json", json, "one JSON object on stdout");

  auto* repair = app.add_subcommand("repair", "write a conformant copy with a fresh DICOMDIR");
  repair->add_option("SOURCE", source, "image file, drive or directory")->required();
  repair->add_option("--out", out, "new or empty output directory")->required();
  repair->add_flag("--json", json, "summary as JSON");

  auto* drives = app.add_subcommand("drives", "list optical drives and whether they hold a disc");
  drives->add_flag("--json", json, "as JSON");

  std::string device;
  auto* eject = app.add_subcommand("eject", "eject a drive's tray");
  eject->add_option("DEVICE", device, "the drive (default: the system's default drive)");

  auto* mpi = app.add_subcommand("mpi", "the local patient directory");
  mpi->require_subcommand(1);
  std::string file;
  std::string format = "auto";
  auto* mpiImport = mpi->add_subcommand("import", "import patients from CSV or HL7 v2 ADT into the embedded index");
  mpiImport->add_option("FILE", file, "CSV (header row) or HL7 v2 file")->required();
  mpiImport->add_option("--format", format, "csv, hl7 or auto (by content)")
      ->check(CLI::IsMember({"auto", "csv", "hl7"}));
  mpiImport->add_flag("--json", json, "summary as JSON");
  std::string query;
  auto* mpiSearch = mpi->add_subcommand("search", "search the configured directory");
  mpiSearch->add_option("QUERY", query, "'Family^Given [YYYYMMDD]' or 'mrn:VALUE'")->required();
  mpiSearch->add_flag("--json", json, "as JSON");

  auto* match = app.add_subcommand("match", "rank local candidates for each patient on a medium");
  match->add_option("SOURCE", source, "image file, drive or directory")->required();
  match->add_flag("--json", json, "one JSON object on stdout");

  ImportArgs imp;
  std::string callingAe;
  int listenPort = 0;
  auto* import = app.add_subcommand("import", "spool a medium and deliver the confirmed patients' studies");
  import->add_option("SOURCE", imp.source, "image file, drive or directory")->required();
  import->add_option("--patient", imp.patients, "FOREIGN_ID=LOCAL_MRN, confirmed by a person (repeatable)")->required();
  import->add_option("--to", imp.destinations, "destination name or dicom://CALLED_AE@host:port (repeatable)")
      ->required();
  import->add_option("--study", imp.studies, "import only this Study Instance UID (repeatable)");
  import->add_option("--confirmed-by", imp.confirmedBy, "who confirmed the patient (default: $USER)");
  import->add_option("--calling-ae", callingAe, "our AE title (default DISCBRIDGE)");
  import->add_option("--listen-port", listenPort, "our storage commitment port (default 11113)");
  import->add_flag("--wait", imp.wait, "return when every delivery is final; exit 0 only if all succeeded");
  import->add_flag("--json", imp.json, "job status as JSON");
  std::string caFile, user, token;
  import->add_option("--ca-file", caFile, "https:// destinations: a CA bundle to trust (verification is always on)");
  import->add_option("--user", user, "https:// destinations: USER:PASSWORD for HTTP basic authentication");
  import->add_option("--token", token, "https:// destinations: a bearer token");
  import->add_flag("--queue-only", imp.queueOnly, "spool and queue only; `discbridge serve` delivers");

  auto* outbox = app.add_subcommand("outbox", "the durable delivery queue");
  std::string outboxAction = "status";
  long long outboxJob = 0;
  outbox->add_option("ACTION", outboxAction, "status | retry | purge")->check(CLI::IsMember({"status", "retry", "purge"}));
  outbox->add_option("JOB", outboxJob, "job number (retry and purge need one)");
  outbox->add_flag("--json", json, "as JSON");

  auto* audit = app.add_subcommand("audit", "the audit trail");
  std::string auditAction = "verify";
  audit->add_option("ACTION", auditAction, "verify: check the trail's hash chain; forward: send what is new to [kiosk] audit_syslog")
      ->check(CLI::IsMember({"verify", "forward"}));
  audit->add_flag("--json", json, "as JSON");

  auto* serve = app.add_subcommand("serve", "the delivery daemon: works the outbox until stopped");
  serve->add_option("--calling-ae", callingAe, "our AE title (default DISCBRIDGE)");
  serve->add_option("--listen-port", listenPort, "our storage commitment port (default 11113)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kOk : kUsage;
  }

  ConfigSources sources;
  if (!g.configFile.empty()) sources.configFile = g.configFile;
  if (!g.dataDir.empty()) sources.dataDir = g.dataDir;
  auto cfg = loadConfig(sources);
  if (!cfg) {
    std::fprintf(stderr, "discbridge: %s\n", cfg.error().message.c_str());
    return kUsage;
  }
  setUpLogging(*cfg, g.verbose);
  spdlog::debug("configuration: {}; data directory: {}",
                cfg->configFile.empty() ? "embedded defaults" : cfg->configFile, cfg->dataDir);

  if (*scan) return cmdScan(*cfg, source, json);
  if (*repair) return cmdRepair(*cfg, source, out, json);
  if (*drives) return cmdDrives(json);
  if (*eject) return cmdEject(device);
  if (!callingAe.empty()) cfg->delivery.aeTitle = callingAe;
  if (!caFile.empty()) cfg->delivery.urlCaFile = caFile;
  if (!user.empty()) cfg->delivery.urlUser = user;
  if (!token.empty()) cfg->delivery.urlToken = token;
  if (listenPort > 0) cfg->delivery.listenerPort = listenPort;
  if (*import) {
    imp.json = imp.json || json;
    return cmdImport(*cfg, imp);
  }
  if (*outbox) {
    if (outboxAction != "status" && outboxJob <= 0) {
      std::fprintf(stderr, "discbridge: outbox %s needs a JOB number\n", outboxAction.c_str());
      return kUsage;
    }
    return cmdOutbox(*cfg, outboxAction, outboxJob, json);
  }
  if (*serve) return cmdServe(*cfg);
  if (*audit) return auditAction == "forward" ? cmdAuditForward(*cfg) : cmdAuditVerify(*cfg, json);
  if (*mpiImport) return cmdMpiImport(*cfg, file, format, json);
  if (*mpiSearch) return cmdMpiSearch(*cfg, query, json);
  if (*match) return cmdMatch(*cfg, source, json);
  return kUsage;
}

}  // namespace discbridge::kiosk
