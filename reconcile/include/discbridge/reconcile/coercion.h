// IHE IRWF.b Importer coercion: the confirmed local identity written into an
// instance on its way out, with the replaced values kept in the Original
// Attributes Sequence and the foreign ID in Other Patient IDs Sequence.
#pragma once

#include <string>

#include "discbridge/ingest/result.h"
#include "discbridge/reconcile/patient.h"

class DcmDataset;

namespace discbridge::reconcile {

enum class AccessionPolicy { Keep, Clear, Replace };
Result<AccessionPolicy> parseAccessionPolicy(const std::string& s);

struct CoercionPlan {
  std::string foreignPatientId;
  std::string foreignIssuer;
  LocalPatient local;  // MRN, issuer, name, birth date, sex
  // Issuer of Patient ID Qualifiers Sequence (0010,0024), written when set.
  std::string issuerUniversalId;
  std::string issuerUniversalIdType;  // e.g. ISO
  AccessionPolicy accession = AccessionPolicy::Keep;
  std::string accessionNumber;  // for Replace (a worklist item's)
  std::string modifyingSystem = "DISCBRIDGE";
};

struct CoercionSettings {
  AccessionPolicy accession = AccessionPolicy::Keep;
  std::string modifyingSystem = "DISCBRIDGE";
  std::string issuerUniversalId;
  std::string issuerUniversalIdType = "ISO";
};

// The plan for a disc patient confirmed as local MRN: refused when the
// directory does not know the MRN (a typo must never create a chart), or when
// the policy needs an accession number that was not chosen.
Result<CoercionPlan> makePlan(PatientDirectory& directory, const std::string& foreignId,
                              const std::string& foreignIssuer, const std::string& localMrn,
                              const std::string& localIssuer, const CoercionSettings& settings,
                              const std::string& accessionNumber = {});

// Applies the plan in place. `now` is the DICOM DT of the modification
// (YYYYMMDDHHMMSS). Study, Series and SOP Instance UIDs are never touched.
Result<void> applyCoercion(DcmDataset& dataset, const CoercionPlan& plan, const std::string& now);

// The current local time as a DICOM DT.
std::string dicomNow();

}  // namespace discbridge::reconcile
