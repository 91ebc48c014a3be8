#include "discbridge/kiosk/audit.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "discbridge/uplink/spool.h"

namespace discbridge::kiosk {
namespace {

using nlohmann::json;

std::string xmlEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // Control characters are not allowed in XML 1.0; a hostile name
        // must not break the message.
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += ' ';
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out;
}

std::string base64(const std::string& in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(tbl[(v >> (6 * k)) & 63]);
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out.push_back(tbl[(v >> 18) & 63]);
    out.push_back(tbl[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? tbl[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string code(const char* element, const char* value, const char* system, const char* text) {
  return std::string("<") + element + " csd-code=\"" + value + "\" codeSystemName=\"" + system +
         "\" originalText=\"" + text + "\"/>";
}

struct EventCodes {
  const char* id;
  const char* idText;
  const char* action;
  const char* type;  // EventTypeCode, or nullptr
  const char* typeText;
};

EventCodes codesOf(AuditEventType t) {
  switch (t) {
    case AuditEventType::ApplicationStart: return {"110100", "Application Activity", "E", "110120", "Application Start"};
    case AuditEventType::ApplicationStop: return {"110100", "Application Activity", "E", "110121", "Application Stop"};
    case AuditEventType::Import: return {"110107", "Import", "C", nullptr, nullptr};
    case AuditEventType::InstancesTransferred: return {"110104", "DICOM Instances Transferred", "R", nullptr, nullptr};
    case AuditEventType::Query: return {"110112", "Query", "E", nullptr, nullptr};
    case AuditEventType::Login: return {"110114", "User Authentication", "E", "110122", "Login"};
    case AuditEventType::Logout: return {"110114", "User Authentication", "E", "110123", "Logout"};
    case AuditEventType::StudyDeleted: return {"110105", "DICOM Study Deleted", "D", nullptr, nullptr};
    case AuditEventType::PatientRecord: return {"110110", "Patient Record", "U", nullptr, nullptr};
  }
  return {"110100", "Application Activity", "E", nullptr, nullptr};
}

std::string participant(const std::string& user, bool requestor, const char* role, const char* roleText,
                        const std::string& inner = {}) {
  std::string s = "<ActiveParticipant UserID=\"" + xmlEscape(user) + "\" UserIsRequestor=\"" +
                  (requestor ? "true" : "false") + "\">";
  if (role != nullptr) s += "<RoleIDCode csd-code=\"" + std::string(role) + "\" codeSystemName=\"DCM\" originalText=\"" + roleText + "\"/>";
  return s + inner + "</ActiveParticipant>";
}

std::string nowUtc() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

std::string chainHash(long long seq, const std::string& time, const std::string& prev, const std::string& xml) {
  return uplink::sha256Hex(std::to_string(seq) + "\n" + time + "\n" + prev + "\n" + xml);
}

const std::string kGenesis(64, '0');

}  // namespace

std::string AuditTrail::toXml(const AuditEvent& e, const std::string& dateTime, const std::string& sourceId) {
  const EventCodes c = codesOf(e.type);
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><AuditMessage>";
  x += std::string("<EventIdentification EventActionCode=\"") + c.action + "\" EventDateTime=\"" + dateTime +
       "\" EventOutcomeIndicator=\"" + (e.success ? "0" : "4") + "\">";
  x += code("EventID", c.id, "DCM", c.idText);
  if (c.type != nullptr) x += code("EventTypeCode", c.type, "DCM", c.typeText);
  if (!e.detail.empty()) x += "<EventOutcomeDescription>" + xmlEscape(e.detail) + "</EventOutcomeDescription>";
  x += "</EventIdentification>";
  const std::string user = e.user.empty() ? "kiosk" : e.user;
  switch (e.type) {
    case AuditEventType::Import: {
      x += participant(user, true, "110152", "Destination Role ID");
      std::string media = "<MediaIdentifier>" +
                          code("MediaType", e.mediaType == "DVD" ? "110033" : "110032", "DCM",
                               e.mediaType == "DVD" ? "DVD" : "CD") +
                          "</MediaIdentifier>";
      x += participant(e.mediaId.empty() ? "unlabelled medium" : e.mediaId, false, "110155", "Source Media", media);
      break;
    }
    case AuditEventType::InstancesTransferred:
      x += participant(sourceId, true, "110153", "Source Role ID");
      x += participant(e.destination, false, "110152", "Destination Role ID");
      if (!e.user.empty()) x += participant(e.user, false, nullptr, nullptr);
      break;
    case AuditEventType::Query:
      x += participant(sourceId, true, "110153", "Source Role ID");
      x += participant(e.destination, false, "110152", "Destination Role ID");
      if (!e.user.empty()) x += participant(e.user, false, nullptr, nullptr);
      break;
    default:
      x += participant(user, true, nullptr, nullptr);
      if (e.type == AuditEventType::ApplicationStart || e.type == AuditEventType::ApplicationStop) {
        x += participant(sourceId, false, "110150", "Application");
      }
  }
  x += "<AuditSourceIdentification AuditSourceID=\"" + xmlEscape(sourceId) + "\"/>";
  for (const auto& p : e.patients) {
    std::string id = p.id + (p.issuer.empty() ? "" : "^^^" + p.issuer);
    x += "<ParticipantObjectIdentification ParticipantObjectID=\"" + xmlEscape(id) +
         "\" ParticipantObjectTypeCode=\"1\" ParticipantObjectTypeCodeRole=\"1\">";
    x += code("ParticipantObjectIDTypeCode", "2", "RFC-3881", "Patient Number");
    if (!p.name.empty()) x += "<ParticipantObjectName>" + xmlEscape(p.name) + "</ParticipantObjectName>";
    x += "</ParticipantObjectIdentification>";
    for (const auto& s : p.studyUids) {
      x += "<ParticipantObjectIdentification ParticipantObjectID=\"" + xmlEscape(s) +
           "\" ParticipantObjectTypeCode=\"2\" ParticipantObjectTypeCodeRole=\"3\">";
      x += code("ParticipantObjectIDTypeCode", "110180", "DCM", "Study Instance UID");
      x += "</ParticipantObjectIdentification>";
    }
  }
  if (e.type == AuditEventType::Query) {
    x += "<ParticipantObjectIdentification ParticipantObjectID=\"" + xmlEscape(e.destination) +
         "\" ParticipantObjectTypeCode=\"2\" ParticipantObjectTypeCodeRole=\"3\">";
    x += code("ParticipantObjectIDTypeCode", "1.2.840.10008.5.1.4.31", "DCM", "Modality Worklist Information Model - FIND");
    x += "<ParticipantObjectQuery>" + base64(e.query) + "</ParticipantObjectQuery></ParticipantObjectIdentification>";
  }
  return x + "</AuditMessage>";
}

AuditTrail::AuditTrail(std::string path, std::string sourceId, long long seq, std::string lastHash)
    : path_(std::move(path)), sourceId_(std::move(sourceId)), seq_(seq), lastHash_(std::move(lastHash)) {}

Result<std::unique_ptr<AuditTrail>> AuditTrail::open(const std::string& path, std::string sourceId) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  // The chain continues from the last record; a trail that does not verify
  // is kept as it is and reported, never rewritten.
  auto v = verify(path);
  if (!v) return v.error();
  if (!v->intact) return makeError("AUDIT_BROKEN", "audit trail " + path + " does not verify: " + v->problem);
  long long seq = 0;
  std::string last = kGenesis;
  std::ifstream in(path);
  std::string line, lastLine;
  while (std::getline(in, line)) {
    if (!line.empty()) lastLine = line;
  }
  if (!lastLine.empty()) {
    auto j = json::parse(lastLine);
    seq = j.at("seq").get<long long>();
    last = j.at("hash").get<std::string>();
  }
  return std::unique_ptr<AuditTrail>(new AuditTrail(path, std::move(sourceId), seq, last));
}

Result<void> AuditTrail::record(const AuditEvent& event) {
  std::lock_guard lock(mu_);
  const std::string time = nowUtc();
  const std::string xml = toXml(event, time, sourceId_);
  const long long seq = seq_ + 1;
  const std::string hash = chainHash(seq, time, lastHash_, xml);
  std::string line = json{{"seq", seq}, {"time", time}, {"prev", lastHash_}, {"message", xml}, {"hash", hash}}.dump() + "\n";
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return makeError("AUDIT_WRITE", "cannot open audit trail " + path_);
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fdatasync(fd) == 0;
  ::close(fd);
  if (!ok) return makeError("AUDIT_WRITE", "cannot write audit trail " + path_);
  seq_ = seq;
  lastHash_ = hash;
  return {};
}

Result<AuditVerification> AuditTrail::verify(const std::string& path) {
  AuditVerification v;
  std::ifstream in(path);
  if (!in) return v;  // no trail yet
  std::string line, prev = kGenesis;
  long long expect = 1;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = json::parse(line, nullptr, false);
    auto fail = [&](const std::string& why) {
      v.intact = false;
      v.problem = "record " + std::to_string(expect) + ": " + why;
      return v;
    };
    if (j.is_discarded() || !j.contains("seq") || !j.contains("hash") || !j.contains("message") ||
        !j.contains("time") || !j.contains("prev")) {
      return fail("not a trail record");
    }
    try {
      if (j["seq"].get<long long>() != expect) return fail("out of sequence (a record is missing)");
      if (j["prev"].get<std::string>() != prev) return fail("does not follow the record before it");
      std::string h = chainHash(expect, j["time"].get<std::string>(), prev, j["message"].get<std::string>());
      if (h != j["hash"].get<std::string>()) return fail("content changed after it was written");
      prev = h;
    } catch (const json::exception&) {
      return fail("not a trail record");
    }
    ++expect;
    ++v.records;
  }
  return v;
}

AuditForwarder::AuditForwarder(std::string trailPath, uplink::SyslogTarget target, std::string hostName)
    : trail_(std::move(trailPath)), state_(trail_ + ".forwarded"), host_(std::move(hostName)), client_(std::move(target)) {
  std::ifstream in(state_);
  if (!(in >> seq_ >> offset_)) seq_ = offset_ = 0;
}

AuditForwarder::~AuditForwarder() = default;

Result<std::size_t> AuditForwarder::forwardPending(std::size_t maxRecords) {
  std::ifstream in(trail_, std::ios::binary);
  if (!in) return std::size_t{0};
  in.seekg(0, std::ios::end);
  if (static_cast<long long>(in.tellg()) < offset_) seq_ = offset_ = 0;  // a new trail
  in.seekg(offset_);
  std::vector<std::string> records;
  long long seq = seq_, offset = offset_;
  std::string line;
  while (records.size() < maxRecords && std::getline(in, line)) {
    if (in.eof()) break;  // a line still being written has no newline yet
    auto j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("message") || !j.contains("seq")) {
      return makeError("AUDIT_BROKEN", "audit trail " + trail_ + ": unreadable record after " + std::to_string(seq));
    }
    const std::string message = j["message"].get<std::string>();
    const bool failure = message.find("EventOutcomeIndicator=\"0\"") == std::string::npos;
    records.push_back(uplink::syslogRecord(j.value("time", ""), host_, "DISCBRIDGE", "DICOM+RFC3881", message, failure));
    seq = j["seq"].get<long long>();
    offset += static_cast<long long>(line.size()) + 1;
  }
  if (records.empty()) return std::size_t{0};
  if (auto r = client_.send(records); !r) return r.error();
  // Remembered only once sent: a crash in between sends them again (at
  // least once, as syslog is).
  const std::string tmp = state_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << seq << " " << offset << "\n";
    if (!out) return makeError("AUDIT_WRITE", "cannot write " + state_);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, state_, ec);
  if (ec) return makeError("AUDIT_WRITE", "cannot write " + state_);
  seq_ = seq;
  offset_ = offset;
  return records.size();
}

}  // namespace discbridge::kiosk
