// A stand-in for a PACS that answers storage commitment on the storing
// association itself (N-EVENT-REPORT right after the N-ACTION response), a
// behaviour PS3.4 allows and Orthanc never shows. Stores are accepted and
// discarded; C-FIND finds nothing. A fake only for what the real PACS here
// cannot do on demand.
#pragma once

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/scp.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>

namespace discbridge::test {

class CommitmentStandIn {
 public:
  explicit CommitmentStandIn(int port) : scp_(std::make_unique<Scp>(*this)) {
    scp_->setAETitle("STANDIN");
    scp_->setPort(static_cast<Uint16>(port));
    scp_->setConnectionBlockingMode(DUL_NOBLOCK);
    scp_->setConnectionTimeout(1);
    scp_->setACSETimeout(10);
    scp_->setDIMSETimeout(30);
    OFList<OFString> ts;
    for (const char* t : {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
                          UID_BigEndianExplicitTransferSyntax}) {
      ts.push_back(t);
    }
    auto& cfg = scp_->getConfig();
    for (const char* sop : {UID_CTImageStorage, UID_MRImageStorage, UID_SecondaryCaptureImageStorage,
                            UID_StorageCommitmentPushModelSOPClass, UID_FINDStudyRootQueryRetrieveInformationModel,
                            UID_FINDPatientRootQueryRetrieveInformationModel, UID_VerificationSOPClass}) {
      cfg.addPresentationContext(sop, ts, ASC_SC_ROLE_DEFAULT);
    }
    thread_ = std::thread([this] { scp_->listen(); });
  }
  ~CommitmentStandIn() {
    scp_->stopping = true;
    if (thread_.joinable()) thread_.join();
  }

  std::atomic<int> stored{0};
  std::atomic<int> actions{0};
  std::atomic<int> reports{0};          // N-EVENT-REPORTs sent on the storing association
  std::atomic<int> reportsAnswered{0};  // ... and answered with success by the sender

 private:
  class Scp final : public DcmSCP {
   public:
    explicit Scp(CommitmentStandIn& owner) : owner_(owner) {}
    std::atomic<bool> stopping{false};

   protected:
    OFBool stopAfterConnectionTimeout() override { return stopping.load(); }
    OFBool stopAfterCurrentAssociation() override { return stopping.load(); }

    OFCondition handleIncomingCommand(T_DIMSE_Message* msg, const DcmPresentationContextInfo& info) override {
      T_ASC_PresentationContextID pid = info.presentationContextID;
      switch (msg->CommandField) {
        case DIMSE_C_STORE_RQ: {
          DcmDataset* ds = nullptr;
          OFCondition c = receiveSTORERequest(msg->msg.CStoreRQ, pid, ds);
          delete ds;
          if (c.bad()) return c;
          ++owner_.stored;
          return sendSTOREResponse(pid, msg->msg.CStoreRQ, STATUS_Success);
        }
        case DIMSE_C_FIND_RQ: {
          DcmDataset* q = nullptr;
          OFCondition c = receiveFINDRequest(msg->msg.CFindRQ, pid, q);
          delete q;
          if (c.bad()) return c;
          return sendFINDResponse(pid, msg->msg.CFindRQ.MessageID, msg->msg.CFindRQ.AffectedSOPClassUID, nullptr,
                                  STATUS_Success);
        }
        case DIMSE_N_ACTION_RQ: {
          DcmDataset* rq = nullptr;
          Uint16 actionType = 0;
          T_DIMSE_N_ActionRQ& req = msg->msg.NActionRQ;
          OFCondition c = receiveACTIONRequest(req, pid, rq, actionType);
          std::unique_ptr<DcmDataset> request(rq);
          if (c.bad() || !request) return c.bad() ? c : EC_IllegalCall;
          ++owner_.actions;
          c = sendACTIONResponse(pid, req.MessageID, req.RequestedSOPClassUID, req.RequestedSOPInstanceUID,
                                 STATUS_Success);
          if (c.bad()) return c;
          // Everything asked for is committed, reported right here.
          DcmDataset report;
          OFString tx;
          request->findAndGetOFString(DCM_TransactionUID, tx);
          report.putAndInsertString(DCM_TransactionUID, tx.c_str());
          DcmSequenceOfItems* refs = nullptr;
          if (request->findAndGetSequence(DCM_ReferencedSOPSequence, refs).good() && refs != nullptr) {
            report.insert(new DcmSequenceOfItems(*refs));
          }
          Uint16 status = 0xFFFF;
          ++owner_.reports;
          c = sendEVENTREPORTRequest(pid, UID_StorageCommitmentPushModelSOPInstance, 1000, 1, &report, status);
          if (c.good() && status == STATUS_Success) ++owner_.reportsAnswered;
          return c;
        }
        default:
          return DcmSCP::handleIncomingCommand(msg, info);
      }
    }

   private:
    CommitmentStandIn& owner_;
  };

  std::unique_ptr<Scp> scp_;
  std::thread thread_;
};

}  // namespace discbridge::test
