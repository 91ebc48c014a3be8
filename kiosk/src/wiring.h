// How the kiosk's configuration becomes the objects of the modules below it:
// one place for the command line and the session manager alike.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "discbridge/ingest/fileset.h"
#include "discbridge/kiosk/config.h"
#include "discbridge/reconcile/coercion.h"
#include "discbridge/reconcile/matcher.h"
#include "discbridge/reconcile/sqlite_directory.h"
#include "discbridge/uplink/outbox.h"
#include "discbridge/uplink/spool.h"

namespace discbridge::kiosk {

ingest::ScanOptions scanOptions(const Config& cfg);
Result<std::unique_ptr<reconcile::SqliteDirectory>> openIndex(const Config& cfg);
// The configured patient directory: the SQLite index or a worklist.
Result<std::unique_ptr<reconcile::PatientDirectory>> openDirectory(const Config& cfg);
reconcile::MatchThresholds thresholds(const Config& cfg);
// policy overrides the configured accession policy when not empty.
Result<reconcile::CoercionSettings> coercionSettings(const Config& cfg, const std::string& policy = {});

// A staff search: "mrn:123", a bare number (an MRN), or "Family Given [date]".
Result<std::vector<reconcile::Candidate>> searchDirectory(const Config& cfg, reconcile::PatientDirectory& dir,
                                                          const std::string& query);

// Options given with a cloud URL (CA file, credentials) are kept in the
// outbox so a restarted worker can still deliver.
void saveUrlOptions(const Config& cfg, uplink::Outbox& outbox, const std::vector<std::string>& destinations);

// One instance of a scanned medium with where it sits in the content model.
struct DiscInstance {
  const ingest::PatientOnMedium* patient = nullptr;
  const ingest::StudyOnMedium* study = nullptr;
  const ingest::SeriesOnMedium* series = nullptr;
  const ingest::InstanceRef* instance = nullptr;
};
// The instances to copy off a medium, in the order of their first sector: an
// optical drive then streams instead of seeking. keep picks studies (all when
// empty).
std::vector<DiscInstance> instancesInDiscOrder(
    const ingest::FileSetReport& report,
    const std::function<bool(const ingest::PatientOnMedium&, const ingest::StudyOnMedium&)>& keep = {});
// The outbox's record of one spooled instance.
uplink::InstanceRow instanceRow(const DiscInstance& item, const uplink::SpooledInstance& spooled);

}  // namespace discbridge::kiosk
