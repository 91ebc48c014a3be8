#include "discbridge/reconcile/coercion.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include <ctime>
#include <memory>
#include <vector>

namespace discbridge::reconcile {
namespace {

bool isAscii(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::string get(DcmItem& item, const DcmTagKey& key) {
  OFString v;
  if (item.findAndGetOFStringArray(key, v).good()) return std::string(v.c_str(), v.length());
  return {};
}

}  // namespace

Result<AccessionPolicy> parseAccessionPolicy(const std::string& s) {
  if (s == "keep") return AccessionPolicy::Keep;
  if (s == "clear") return AccessionPolicy::Clear;
  if (s == "replace") return AccessionPolicy::Replace;
  return makeError("CONFIG_INVALID", "accession policy must be keep, clear or replace, not '" + s + "'");
}

Result<CoercionPlan> makePlan(PatientDirectory& directory, const std::string& foreignId,
                              const std::string& foreignIssuer, const std::string& localMrn,
                              const std::string& localIssuer, const CoercionSettings& settings,
                              const std::string& accessionNumber) {
  auto found = directory.find(localMrn, localIssuer);
  if (!found) return found.error();
  if (!*found) {
    return makeError("UNKNOWN_MRN", "MRN " + localMrn + " is not in the patient directory; nothing is imported under it");
  }
  CoercionPlan plan;
  plan.foreignPatientId = foreignId;
  plan.foreignIssuer = foreignIssuer;
  plan.local = **found;
  plan.accession = settings.accession;
  plan.accessionNumber = accessionNumber.empty() ? plan.local.accessionNumber : accessionNumber;
  plan.modifyingSystem = settings.modifyingSystem;
  plan.issuerUniversalId = settings.issuerUniversalId;
  plan.issuerUniversalIdType = settings.issuerUniversalIdType;
  if (plan.accession == AccessionPolicy::Replace && plan.accessionNumber.empty()) {
    return makeError("NO_ACCESSION", "the accession policy is 'replace' but no order was chosen");
  }
  return plan;
}

std::string dicomNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

Result<void> applyCoercion(DcmDataset& ds, const CoercionPlan& plan, const std::string& now) {
  const LocalPatient& l = plan.local;
  if (l.mrn.empty()) return makeError("COERCION_INVALID", "no local MRN to coerce to");
  if (plan.accession == AccessionPolicy::Replace && plan.accessionNumber.empty()) {
    return makeError("COERCION_INVALID", "accession policy 'replace' without an accession number");
  }
  const std::string name = formatPersonName(l.name);

  // The new values must be representable: move the dataset to UTF-8 first
  // when they are not ASCII, so originals and new values share one set.
  const std::string charset = get(ds, DCM_SpecificCharacterSet);
  if ((!isAscii(name) || !isAscii(l.issuer) || !isAscii(l.mrn)) && charset != "ISO_IR 192") {
    OFCondition c = ds.convertToUTF8();
    if (c.bad()) {
      return makeError("COERCION_CHARSET", std::string("cannot convert the instance to UTF-8 for the local name: ") +
                                               c.text());
    }
  }

  // What will be replaced, as it is now.
  struct Change {
    DcmTagKey key;
    std::string value;
  };
  std::vector<Change> changes = {
      {DCM_PatientID, l.mrn},        {DCM_IssuerOfPatientID, l.issuer}, {DCM_PatientName, name},
      {DCM_PatientBirthDate, l.birthDate}, {DCM_PatientSex, l.sex},
  };
  if (plan.accession == AccessionPolicy::Clear) changes.push_back({DCM_AccessionNumber, ""});
  if (plan.accession == AccessionPolicy::Replace) changes.push_back({DCM_AccessionNumber, plan.accessionNumber});

  auto modified = std::make_unique<DcmItem>();
  bool anyChange = false;
  for (const auto& ch : changes) {
    DcmElement* old = nullptr;
    bool present = ds.findAndGetElement(ch.key, old).good() && old != nullptr;
    std::string oldValue = present ? get(ds, ch.key) : std::string();
    if (present && oldValue == ch.value) continue;
    if (!present && ch.value.empty()) continue;
    anyChange = true;
    if (present) {
      modified->insert(dynamic_cast<DcmElement*>(old->clone()), true);
    } else {
      // Absent before: recorded empty, so a reversal knows to remove it.
      modified->insertEmptyElement(ch.key, true);
    }
  }
  bool qualifiersChange = false;
  if (!plan.issuerUniversalId.empty()) {
    DcmItem* q0 = nullptr;
    std::string existing;
    if (ds.findAndGetSequenceItem(DCM_IssuerOfPatientIDQualifiersSequence, q0, 0).good() && q0 != nullptr) {
      existing = get(*q0, DCM_UniversalEntityID);
    }
    qualifiersChange = existing != plan.issuerUniversalId;
  }
  if (qualifiersChange) {
    DcmElement* old = nullptr;
    if (ds.findAndGetElement(DCM_IssuerOfPatientIDQualifiersSequence, old).good() && old != nullptr) {
      modified->insert(dynamic_cast<DcmElement*>(old->clone()), true);
    } else {
      modified->insertEmptyElement(DCM_IssuerOfPatientIDQualifiersSequence, true);
    }
    anyChange = true;
  }
  // The foreign ID joins Other Patient IDs Sequence unless already there.
  bool foreignKnown = false;
  DcmSequenceOfItems* others = nullptr;
  if (ds.findAndGetSequence(DCM_OtherPatientIDsSequence, others).good() && others != nullptr) {
    for (unsigned long i = 0; i < others->card(); ++i) {
      DcmItem* it = others->getItem(i);
      if (get(*it, DCM_PatientID) == plan.foreignPatientId && get(*it, DCM_IssuerOfPatientID) == plan.foreignIssuer)
        foreignKnown = true;
    }
  }
  const bool addForeign = !plan.foreignPatientId.empty() && plan.foreignPatientId != l.mrn && !foreignKnown;
  if (addForeign) {
    DcmElement* old = nullptr;
    if (ds.findAndGetElement(DCM_OtherPatientIDsSequence, old).good() && old != nullptr) {
      modified->insert(dynamic_cast<DcmElement*>(old->clone()), true);
    } else {
      modified->insertEmptyElement(DCM_OtherPatientIDsSequence, true);
    }
    anyChange = true;
  }
  if (!anyChange) return {};  // already coerced to these values: idempotent

  // Apply.
  for (const auto& ch : changes) ds.putAndInsertString(ch.key, ch.value.c_str());
  if (qualifiersChange) {
    ds.findAndDeleteElement(DCM_IssuerOfPatientIDQualifiersSequence);
    DcmItem* q = nullptr;
    ds.findOrCreateSequenceItem(DCM_IssuerOfPatientIDQualifiersSequence, q, 0);
    if (q != nullptr) {
      q->putAndInsertString(DCM_UniversalEntityID, plan.issuerUniversalId.c_str());
      q->putAndInsertString(DCM_UniversalEntityIDType,
                            plan.issuerUniversalIdType.empty() ? "ISO" : plan.issuerUniversalIdType.c_str());
    }
  }
  if (addForeign) {
    DcmItem* item = nullptr;
    ds.findOrCreateSequenceItem(DCM_OtherPatientIDsSequence, item, -2);  // append
    if (item != nullptr) {
      item->putAndInsertString(DCM_PatientID, plan.foreignPatientId.c_str());
      item->putAndInsertString(DCM_IssuerOfPatientID, plan.foreignIssuer.c_str());
      item->putAndInsertString(DCM_TypeOfPatientID, "TEXT");
    }
  }
  // One more Original Attributes item; earlier ones stay untouched.
  DcmItem* orig = nullptr;
  ds.findOrCreateSequenceItem(DCM_OriginalAttributesSequence, orig, -2);
  if (orig == nullptr) return makeError("COERCION_FAILED", "cannot add to Original Attributes Sequence");
  orig->putAndInsertString(DCM_AttributeModificationDateTime, now.c_str());
  orig->putAndInsertString(DCM_ModifyingSystem, plan.modifyingSystem.c_str());
  orig->putAndInsertString(DCM_SourceOfPreviousValues, plan.foreignIssuer.c_str());
  orig->putAndInsertString(DCM_ReasonForTheAttributeModification, "COERCE");
  auto* seq = new DcmSequenceOfItems(DCM_ModifiedAttributesSequence);  // NOLINT: owned by orig
  seq->append(modified.release());
  orig->insert(seq, true);
  ds.putAndInsertString(DCM_InstanceCoercionDateTime, now.c_str());
  if (!isAscii(name) || !isAscii(l.issuer) || !isAscii(l.mrn)) {
    ds.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
  }
  return {};
}

}  // namespace discbridge::reconcile
