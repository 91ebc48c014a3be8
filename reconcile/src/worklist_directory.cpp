#include "discbridge/reconcile/worklist_directory.h"

#include "discbridge/reconcile/coercion.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/scu.h>

#include <ctime>
#include <set>

namespace discbridge::reconcile {
namespace {

std::string get(DcmItem& item, const DcmTagKey& key) {
  OFString v;
  if (item.findAndGetOFStringArray(key, v).good()) return std::string(v.c_str(), v.length());
  return {};
}

std::string today() { return dicomNow().substr(0, 8); }

// Characters with a meaning in DICOM matching are not allowed in a key value.
std::string safeKey(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c != '*' && c != '?' && c != '\\' && c != '^' && c != '=') out.push_back(c);
  }
  return out;
}

}  // namespace

Result<std::vector<LocalPatient>> WorklistDirectory::cfind(const Keys& keys) {
  DcmSCU scu;
  scu.setAETitle(config_.callingAe.c_str());
  scu.setPeerHostName(config_.host.c_str());
  scu.setPeerPort(static_cast<Uint16>(config_.port));
  scu.setPeerAETitle(config_.calledAe.c_str());
  scu.setACSETimeout(static_cast<Uint32>(config_.timeoutSeconds));
  scu.setConnectionTimeout(config_.timeoutSeconds);
  scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  scu.setDIMSETimeout(static_cast<Uint32>(config_.timeoutSeconds));
  scu.setVerbosePCMode(OFFalse);
  OFList<OFString> ts;
  ts.push_back(UID_LittleEndianExplicitTransferSyntax);
  ts.push_back(UID_LittleEndianImplicitTransferSyntax);
  scu.addPresentationContext(UID_FINDModalityWorklistInformationModel, ts);
  OFCondition c = scu.initNetwork();
  if (c.bad()) return makeError("WORKLIST_UNREACHABLE", std::string("worklist: ") + c.text(), true);
  c = scu.negotiateAssociation();
  if (c.bad()) {
    return makeError("WORKLIST_UNREACHABLE", "worklist " + config_.calledAe + "@" + config_.host + ":" +
                                                 std::to_string(config_.port) + " refused or unreachable: " + c.text(),
                     true);
  }
  T_ASC_PresentationContextID pc = scu.findPresentationContextID(UID_FINDModalityWorklistInformationModel, "");
  if (pc == 0) {
    scu.releaseAssociation();
    return makeError("WORKLIST_REFUSED", "the worklist SCP does not offer Modality Worklist C-FIND");
  }
  DcmDataset q;
  q.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
  q.putAndInsertString(DCM_PatientName, keys.patientName.c_str());
  q.putAndInsertString(DCM_PatientID, keys.patientId.c_str());
  q.putAndInsertString(DCM_IssuerOfPatientID, "");
  q.putAndInsertString(DCM_PatientBirthDate, keys.birthDate.c_str());
  q.putAndInsertString(DCM_PatientSex, "");
  q.putAndInsertString(DCM_AccessionNumber, "");
  q.putAndInsertString(DCM_RequestedProcedureDescription, "");
  DcmItem* sps = nullptr;
  if (q.findOrCreateSequenceItem(DCM_ScheduledProcedureStepSequence, sps, 0).good() && sps != nullptr) {
    sps->putAndInsertString(DCM_ScheduledProcedureStepStartDate, config_.todayOnly ? today().c_str() : "");
    sps->putAndInsertString(DCM_Modality, "");
    sps->putAndInsertString(DCM_ScheduledStationAETitle, "");
  }
  OFList<QRResponse*> responses;
  c = scu.sendFINDRequest(pc, &q, &responses);
  std::vector<LocalPatient> out;
  for (QRResponse* r : responses) {
    if (r->m_dataset != nullptr) {
      DcmDataset& d = *r->m_dataset;
      LocalPatient p;
      p.mrn = get(d, DCM_PatientID);
      p.issuer = get(d, DCM_IssuerOfPatientID);
      p.name = parsePersonName(get(d, DCM_PatientName));
      p.birthDate = normaliseDate(get(d, DCM_PatientBirthDate));
      p.sex = normaliseSex(get(d, DCM_PatientSex));
      p.accessionNumber = get(d, DCM_AccessionNumber);
      p.requestedProcedure = get(d, DCM_RequestedProcedureDescription);
      if (!p.mrn.empty()) out.push_back(std::move(p));
    }
    delete r;  // NOLINT: DcmSCU hands over ownership of its responses
  }
  scu.releaseAssociation();
  if (c.bad()) return makeError("WORKLIST_FAILED", std::string("worklist C-FIND failed: ") + c.text(), true);
  return out;
}

Result<std::vector<LocalPatient>> WorklistDirectory::candidates(const DirectoryQuery& query) {
  std::vector<LocalPatient> all;
  std::set<std::string> seen;
  auto add = [&](Result<std::vector<LocalPatient>> r) -> Result<void> {
    if (!r) return r.error();
    for (auto& p : *r) {
      // One worklist item per order: the same patient may come with several accessions.
      std::string key = p.mrn + "\x1f" + p.issuer + "\x1f" + p.accessionNumber;
      if (seen.insert(key).second) all.push_back(std::move(p));
    }
    return {};
  };
  std::string family = safeKey(query.name.family);
  std::string given = safeKey(query.name.given);
  if (family.size() >= 2) {
    if (auto r = add(cfind({family + "*", "", ""})); !r) return r.error();
  }
  if (given.size() >= 2) {  // family and given swapped on the disc
    if (auto r = add(cfind({given + "*", "", ""})); !r) return r.error();
  }
  std::string dob = normaliseDate(query.birthDate);
  if (!dob.empty()) {
    if (auto r = add(cfind({"", "", dob})); !r) return r.error();
  }
  if (all.size() > query.limit) all.resize(query.limit);
  return all;
}

Result<std::optional<LocalPatient>> WorklistDirectory::find(const std::string& mrn, const std::string& issuer) {
  auto r = cfind({"", safeKey(mrn), ""});
  if (!r) return r.error();
  for (auto& p : *r) {
    if (issuer.empty() || p.issuer.empty() || p.issuer == issuer) return std::optional<LocalPatient>(std::move(p));
  }
  return std::optional<LocalPatient>();
}

}  // namespace discbridge::reconcile
