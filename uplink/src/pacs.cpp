#include "discbridge/uplink/pacs.h"

#include "discbridge/ingest/codecs.h"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmnet/dcmlayer.h>
#include <dcmtk/dcmnet/dcmtrans.h>
#include <dcmtk/dcmnet/scp.h>
#include <dcmtk/dcmnet/scu.h>
#include <dcmtk/dcmtls/tlslayer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

namespace discbridge::uplink {
namespace {

// Our own TCP connection: Nagle off, and on Linux TCP_QUICKACK re-armed after
// every read so the receiver's small responses are acknowledged at once (the
// kernel drops back to delayed ACKs otherwise). Set here, not through DCMTK's
// TCP_NODELAY environment variable, so the wire behaviour is ours and logged.
class TunedConnection final : public DcmTCPConnection {
 public:
  TunedConnection(DcmNativeSocketType s, bool quickAck) : DcmTCPConnection(s), socket_(s), quickAck_(quickAck) {
    int one = 1;
    ::setsockopt(socket_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    rearm();
  }
  ssize_t read(void* buf, size_t nbyte) override {
    ssize_t n = DcmTCPConnection::read(buf, nbyte);
    rearm();
    return n;
  }

 private:
  void rearm() {
#ifdef TCP_QUICKACK
    if (quickAck_) {
      int one = 1;
      ::setsockopt(socket_, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
#endif
  }
  DcmNativeSocketType socket_;
  bool quickAck_;
};

class TunedLayer final : public DcmTransportLayer {
 public:
  explicit TunedLayer(bool quickAck) : quickAck_(quickAck) {}
  DcmTransportConnection* createConnection(DcmNativeSocketType s, OFBool) override {
    return new TunedConnection(s, quickAck_);  // NOLINT: DCMTK owns the connection
  }

 private:
  bool quickAck_;
};

std::string get(DcmItem& item, const DcmTagKey& key) {
  OFString v;
  if (item.findAndGetOFStringArray(key, v).good()) return std::string(v.c_str(), v.length());
  return {};
}

const char* const kUncompressed[] = {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax};

bool isUncompressed(const std::string& ts) {
  return ts == UID_LittleEndianExplicitTransferSyntax || ts == UID_LittleEndianImplicitTransferSyntax ||
         ts == UID_BigEndianExplicitTransferSyntax;
}

StoreOutcome classify(Uint16 status) {
  StoreOutcome o;
  o.status = status;
  char hex[8];
  std::snprintf(hex, sizeof hex, "%04X", status);
  if (status == 0x0000 || status == 0xB000 || status == 0xB006 || status == 0xB007) {
    o.result = StoreResult::Stored;
  } else if ((status & 0xFF00) == 0xA700) {
    o.result = StoreResult::Transient;
    o.message = std::string("PACS out of resources (status ") + hex + ")";
  } else {
    o.result = StoreResult::Permanent;
    o.message = std::string("PACS refused the instance (status ") + hex + ")";
  }
  return o;
}

}  // namespace

Result<PacsDestination> parseDicomUrl(const std::string& url) {
  PacsDestination d;
  std::string rest;
  if (url.rfind("dicom://", 0) == 0) {
    rest = url.substr(8);
  } else if (url.rfind("dicoms://", 0) == 0) {
    rest = url.substr(9);
    d.tls = true;
  } else {
    return makeError("BAD_DESTINATION", "not a dicom:// or dicoms:// URL: " + url);
  }
  auto at = rest.find('@');
  auto colon = rest.rfind(':');
  if (at == std::string::npos || colon == std::string::npos || colon < at) {
    return makeError("BAD_DESTINATION", url + ": expected dicom://CALLED_AE@host:port");
  }
  d.calledAe = rest.substr(0, at);
  d.host = rest.substr(at + 1, colon - at - 1);
  try {
    d.port = std::stoi(rest.substr(colon + 1));
  } catch (...) {
    d.port = 0;
  }
  if (d.calledAe.empty() || d.calledAe.size() > 16 || d.host.empty() || d.port <= 0 || d.port > 65535) {
    return makeError("BAD_DESTINATION", url + ": expected dicom://CALLED_AE@host:port (AE title up to 16 characters)");
  }
  d.name = url;
  return d;
}

// DcmSCU with its transport-layer hook made reachable.
class TunableScu final : public DcmSCU {
 public:
  using DcmSCU::useSecureConnection;
};

struct PacsAssociation::Impl {
  TunableScu scu;
  std::unique_ptr<DcmTransportLayer> layer;
  PacsDestination dest;
};

PacsAssociation::PacsAssociation(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PacsAssociation::~PacsAssociation() {
  if (impl_ && impl_->scu.isConnected()) impl_->scu.releaseAssociation();
}

Result<std::unique_ptr<PacsAssociation>> PacsAssociation::open(const PacsDestination& dest,
                                                               const std::vector<SopRef>& content, bool forFind) {
  auto impl = std::make_unique<Impl>();
  impl->dest = dest;
  TunableScu& scu = impl->scu;
  scu.setAETitle(dest.callingAe.c_str());
  scu.setPeerHostName(dest.host.c_str());
  scu.setPeerPort(static_cast<Uint16>(dest.port));
  scu.setPeerAETitle(dest.calledAe.c_str());
  scu.setACSETimeout(static_cast<Uint32>(dest.timeoutSeconds));
  scu.setConnectionTimeout(dest.timeoutSeconds);
  scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  scu.setDIMSETimeout(static_cast<Uint32>(dest.timeoutSeconds));
  scu.setMaxReceivePDULength(ASC_MAXIMUMPDUSIZE);
  scu.setVerbosePCMode(OFFalse);

  if (dest.tls) {
    auto tls = std::make_unique<DcmTLSTransportLayer>(NET_REQUESTOR, nullptr, OFFalse);
    if (tls->setTLSProfile(TSP_Profile_BCP195).bad() || tls->activateCipherSuites().bad()) {
      return makeError("TLS_SETUP", "cannot set up TLS", false);
    }
    if (!dest.caFile.empty() && tls->addTrustedCertificateFile(dest.caFile.c_str(), DCF_Filetype_PEM).bad()) {
      return makeError("TLS_SETUP", "cannot read the CA file " + dest.caFile, false);
    }
    if (!dest.certFile.empty() &&
        (tls->setPrivateKeyFile(dest.keyFile.c_str(), DCF_Filetype_PEM).bad() ||
         tls->setCertificateFile(dest.certFile.c_str(), DCF_Filetype_PEM).bad() || !tls->checkPrivateKeyMatchesCertificate())) {
      return makeError("TLS_SETUP", "cannot use the client certificate " + dest.certFile, false);
    }
    tls->setCertificateVerification(DCV_requireCertificate);
    impl->layer = std::move(tls);
  } else if (dest.tcpNoDelay) {
    impl->layer = std::make_unique<TunedLayer>(dest.tcpQuickAck);
  }

  if (forFind) {
    OFList<OFString> ts;
    for (const char* t : kUncompressed) ts.push_back(t);
    scu.addPresentationContext(UID_FINDStudyRootQueryRetrieveInformationModel, ts);
  } else {
    // Per SOP class: one context per transfer syntax present (the PACS may
    // accept the instance as it is), and one uncompressed fallback.
    std::map<std::string, std::set<std::string>> classes;
    for (const auto& c : content) classes[c.sopClassUid].insert(c.transferSyntaxUid);
    int contexts = 0;
    for (const auto& [cls, syntaxes] : classes) {
      for (const auto& ts : syntaxes) {
        if (isUncompressed(ts) || contexts >= 120) continue;
        OFList<OFString> one;
        one.push_back(ts.c_str());
        scu.addPresentationContext(cls.c_str(), one);
        ++contexts;
      }
      OFList<OFString> plain;
      for (const char* t : kUncompressed) plain.push_back(t);
      if (syntaxes.count(UID_BigEndianExplicitTransferSyntax)) plain.push_back(UID_BigEndianExplicitTransferSyntax);
      if (contexts < 126) {
        scu.addPresentationContext(cls.c_str(), plain);
        ++contexts;
      }
    }
    if (dest.storageCommitment) {
      OFList<OFString> ts;
      for (const char* t : kUncompressed) ts.push_back(t);
      scu.addPresentationContext(UID_StorageCommitmentPushModelSOPClass, ts);
    }
  }
  OFCondition c = scu.initNetwork();
  if (c.bad()) return makeError("NETWORK", std::string("cannot initialise the network: ") + c.text(), true);
  // The transport layer hooks into the network initialised above.
  if (impl->layer) {
    c = scu.useSecureConnection(impl->layer.get());
    if (c.bad()) return makeError("NETWORK", std::string("cannot set the transport layer: ") + c.text(), false);
  }
  c = scu.negotiateAssociation();
  if (c.bad()) {
    std::string what = std::string(c.text());
    if (dest.tls && what.find("TLS") != std::string::npos) {
      // Never a silent fallback: a certificate the CA file does not vouch
      // for (or a host-name mismatch) stops the delivery with this reason.
      return makeError("TLS_VERIFY", dest.calledAe + "@" + dest.host + ":" + std::to_string(dest.port) +
                                         ": the TLS connection was refused (" + what +
                                         "); check the destination's ca_file and certificate",
                       false);
    }
    bool rejected = what.find("ejected") != std::string::npos;
    return makeError(rejected ? "ASSOCIATION_REJECTED" : "ASSOCIATION_FAILED",
                     dest.calledAe + "@" + dest.host + ":" + std::to_string(dest.port) +
                         (rejected ? " rejected the association (check the AE titles): " : " is unreachable: ") + what,
                     true);
  }
  return std::unique_ptr<PacsAssociation>(new PacsAssociation(std::move(impl)));
}

StoreOutcome PacsAssociation::store(DcmDataset& dataset, const SopRef& ref) {
  DcmSCU& scu = impl_->scu;
  T_ASC_PresentationContextID pc = 0;
  if (!isUncompressed(ref.transferSyntaxUid)) {
    pc = scu.findPresentationContextID(ref.sopClassUid.c_str(), ref.transferSyntaxUid.c_str());
  }
  if (pc == 0) {
    for (const char* ts : {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
                           UID_BigEndianExplicitTransferSyntax}) {
      pc = scu.findPresentationContextID(ref.sopClassUid.c_str(), ts);
      if (pc != 0) break;
    }
    if (pc == 0) {
      return {StoreResult::Permanent, 0, "the PACS accepts no transfer syntax for SOP class " + ref.sopClassUid};
    }
    if (!isUncompressed(ref.transferSyntaxUid)) {
      // Lossless decoding only; a lossy re-encode never happens.
      ingest::registerDecoders();
      if (dataset.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad() ||
          !dataset.canWriteXfer(EXS_LittleEndianExplicit)) {
        return {StoreResult::Permanent, 0,
                "the PACS refuses transfer syntax " + ref.transferSyntaxUid + " and it cannot be decoded here"};
      }
    }
  }
  Uint16 status = 0;
  OFCondition c = scu.sendSTORERequest(pc, "", &dataset, status);
  if (c.bad()) return {StoreResult::Transient, 0, std::string("C-STORE failed: ") + c.text()};
  return classify(status);
}

Result<std::set<std::string>> PacsAssociation::present(const std::string& studyUid) {
  DcmSCU& scu = impl_->scu;
  T_ASC_PresentationContextID pc = scu.findAnyPresentationContextID(UID_FINDStudyRootQueryRetrieveInformationModel, "");
  std::set<std::string> out;
  if (pc == 0) return out;  // no C-FIND: nothing known to be present
  auto query = [&](const char* level, std::vector<std::string>& uids) -> Result<void> {
    DcmDataset q;
    q.putAndInsertString(DCM_QueryRetrieveLevel, level);
    q.putAndInsertString(DCM_StudyInstanceUID, studyUid.c_str());
    if (std::string(level) == "IMAGE") {
      q.putAndInsertString(DCM_SeriesInstanceUID, "");
      q.putAndInsertString(DCM_SOPInstanceUID, "");
    }
    OFList<QRResponse*> responses;
    OFCondition c = scu.sendFINDRequest(pc, &q, &responses);
    for (QRResponse* r : responses) {
      if (r->m_dataset != nullptr) uids.push_back(get(*r->m_dataset, std::string(level) == "IMAGE" ? DCM_SOPInstanceUID : DCM_StudyInstanceUID));
      delete r;  // NOLINT: DcmSCU hands over its responses
    }
    if (c.bad()) return makeError("FIND_FAILED", std::string("C-FIND failed: ") + c.text(), true);
    return {};
  };
  std::vector<std::string> studies;
  if (auto r = query("STUDY", studies); !r) return r.error();
  if (studies.empty()) return out;
  std::vector<std::string> images;
  if (auto r = query("IMAGE", images); !r) return r.error();
  out.insert(images.begin(), images.end());
  return out;
}

Result<bool> PacsAssociation::requestCommitment(const std::string& transactionUid, const std::vector<SopRef>& refs) {
  DcmSCU& scu = impl_->scu;
  T_ASC_PresentationContextID pc = scu.findAnyPresentationContextID(UID_StorageCommitmentPushModelSOPClass, "");
  if (pc == 0) return false;
  DcmDataset req;
  req.putAndInsertString(DCM_TransactionUID, transactionUid.c_str());
  for (const auto& r : refs) {
    DcmItem* item = nullptr;
    req.findOrCreateSequenceItem(DCM_ReferencedSOPSequence, item, -2);
    item->putAndInsertString(DCM_ReferencedSOPClassUID, r.sopClassUid.c_str());
    item->putAndInsertString(DCM_ReferencedSOPInstanceUID, r.sopInstanceUid.c_str());
  }
  Uint16 status = 0;
  OFCondition c = scu.sendACTIONRequest(pc, UID_StorageCommitmentPushModelSOPInstance, 1, &req, status);
  if (c.bad()) return makeError("COMMIT_REQUEST", std::string("N-ACTION failed: ") + c.text(), true);
  if (status != 0) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%04X", status);
    return makeError("COMMIT_REQUEST", std::string("the PACS refused the storage commitment request (status ") + hex + ")",
                     true);
  }
  return true;
}

std::optional<PacsAssociation::CommitReport> PacsAssociation::awaitReport(int timeoutSeconds) {
  DcmDataset* ds = nullptr;
  Uint16 eventType = 0;
  OFCondition c = impl_->scu.handleEVENTREPORTRequest(ds, eventType, timeoutSeconds);
  std::unique_ptr<DcmDataset> owned(ds);
  if (c.bad() || !owned) return std::nullopt;
  CommitReport r;
  r.transactionUid = get(*owned, DCM_TransactionUID);
  auto collect = [&](const DcmTagKey& key, std::vector<std::string>& out) {
    DcmSequenceOfItems* seq = nullptr;
    if (owned->findAndGetSequence(key, seq).good() && seq != nullptr) {
      for (unsigned long i = 0; i < seq->card(); ++i) out.push_back(get(*seq->getItem(i), DCM_ReferencedSOPInstanceUID));
    }
  };
  collect(DCM_ReferencedSOPSequence, r.committed);
  collect(DCM_FailedSOPSequence, r.failed);
  return r;
}

// ---- the N-EVENT-REPORT listener ----

namespace {

class CommitmentScp final : public DcmSCP {
 public:
  explicit CommitmentScp(CommitmentListener::Handler handler) : handler_(std::move(handler)) {}
  std::atomic<bool> stopping{false};

 protected:
  OFCondition handleIncomingCommand(T_DIMSE_Message* msg, const DcmPresentationContextInfo& info) override {
    if (msg->CommandField != DIMSE_N_EVENT_REPORT_RQ) return DcmSCP::handleIncomingCommand(msg, info);
    T_DIMSE_N_EventReportRQ& req = msg->msg.NEventReportRQ;
    T_ASC_PresentationContextID pid = info.presentationContextID;
    DcmDataset* ds = nullptr;
    OFCondition c = receiveDIMSEDataset(&pid, &ds);
    if (c.good() && ds != nullptr) {
      std::string tx = get(*ds, DCM_TransactionUID);
      std::vector<std::string> ok;
      std::vector<std::string> failed;
      auto collect = [&](const DcmTagKey& seqKey, std::vector<std::string>& out) {
        DcmSequenceOfItems* seq = nullptr;
        if (ds->findAndGetSequence(seqKey, seq).good() && seq != nullptr) {
          for (unsigned long i = 0; i < seq->card(); ++i) out.push_back(get(*seq->getItem(i), DCM_ReferencedSOPInstanceUID));
        }
      };
      collect(DCM_ReferencedSOPSequence, ok);
      collect(DCM_FailedSOPSequence, failed);
      spdlog::info("storage commitment report for transaction {}: {} committed, {} failed", tx, ok.size(), failed.size());
      handler_(tx, ok, failed);
    }
    delete ds;  // NOLINT: received dataset is ours
    T_DIMSE_Message rsp{};
    rsp.CommandField = DIMSE_N_EVENT_REPORT_RSP;
    T_DIMSE_N_EventReportRSP& r = rsp.msg.NEventReportRSP;
    r.MessageIDBeingRespondedTo = req.MessageID;
    r.DimseStatus = c.good() ? STATUS_Success : STATUS_N_ProcessingFailure;
    r.DataSetType = DIMSE_DATASET_NULL;
    r.EventTypeID = req.EventTypeID;
    OFStandard::strlcpy(r.AffectedSOPClassUID, req.AffectedSOPClassUID, sizeof r.AffectedSOPClassUID);
    OFStandard::strlcpy(r.AffectedSOPInstanceUID, req.AffectedSOPInstanceUID, sizeof r.AffectedSOPInstanceUID);
    r.opts = O_NEVENTREPORT_AFFECTEDSOPCLASSUID | O_NEVENTREPORT_AFFECTEDSOPINSTANCEUID | O_NEVENTREPORT_EVENTTYPEID;
    return sendDIMSEMessage(pid, &rsp, nullptr);
  }
  OFBool stopAfterConnectionTimeout() override { return stopping.load(); }
  OFBool stopAfterCurrentAssociation() override { return stopping.load(); }

 private:
  CommitmentListener::Handler handler_;
};

}  // namespace

struct CommitmentListener::Impl {
  std::string ae;
  int port;
  Handler handler;
  std::unique_ptr<CommitmentScp> scp;
  std::thread thread;
  std::atomic<bool> running{false};
};

CommitmentListener::CommitmentListener(std::string aeTitle, int port, Handler handler)
    : impl_(std::make_unique<Impl>()) {
  impl_->ae = std::move(aeTitle);
  impl_->port = port;
  impl_->handler = std::move(handler);
}

CommitmentListener::~CommitmentListener() { stop(); }

Result<void> CommitmentListener::start() {
  // Bind check first so a taken port is a clear error, not a silent thread exit.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(impl_->port));
  int one = 1;
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  bool free = ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  if (!free) {
    return makeError("LISTENER_PORT", "port " + std::to_string(impl_->port) +
                                          " is taken; storage commitment reports go to the process listening there");
  }
  impl_->scp = std::make_unique<CommitmentScp>(impl_->handler);
  CommitmentScp& scp = *impl_->scp;
  scp.setAETitle(impl_->ae.c_str());
  scp.setPort(static_cast<Uint16>(impl_->port));
  scp.setConnectionBlockingMode(DUL_NOBLOCK);
  scp.setConnectionTimeout(1);
  scp.setACSETimeout(10);
  scp.setDIMSETimeout(30);
  scp.setVerbosePCMode(OFFalse);
  OFList<OFString> ts;
  for (const char* t : kUncompressed) ts.push_back(t);
  scp.getConfig().addPresentationContext(UID_StorageCommitmentPushModelSOPClass, ts, ASC_SC_ROLE_DEFAULT);
  scp.getConfig().addPresentationContext(UID_VerificationSOPClass, ts);
  impl_->running = true;
  impl_->thread = std::thread([this] {
    OFCondition c = impl_->scp->listen();
    if (c.bad()) spdlog::warn("storage commitment listener stopped: {}", c.text());
    impl_->running = false;
  });
  // A configuration DCMTK refuses ends listen() at once: say so now.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (!impl_->running) {
    if (impl_->thread.joinable()) impl_->thread.join();
    impl_->scp.reset();
    return makeError("LISTENER_FAILED", "the storage commitment listener could not start (see the log)");
  }
  return {};
}

void CommitmentListener::stop() {
  if (!impl_ || !impl_->scp) return;
  impl_->scp->stopping = true;
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->scp.reset();
}

bool CommitmentListener::running() const { return impl_ && impl_->running; }

}  // namespace discbridge::uplink
