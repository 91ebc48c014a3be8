#include "discbridge/uplink/cloud.h"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <mutex>
#include <random>

namespace discbridge::uplink {
namespace {

using nlohmann::json;

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

std::size_t collect(char* data, std::size_t size, std::size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * n > (16u << 20)) return 0;  // a response this large is not a STOW-RS response
  out->append(data, size * n);
  return size * n;
}

struct HeaderState {
  int retryAfter = 0;
  std::string contentType;
};

std::size_t onHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto* st = static_cast<HeaderState*>(user);
  std::string line(data, size * n);
  std::string lower = line;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.rfind("retry-after:", 0) == 0) {
    try {
      st->retryAfter = std::max(0, std::min(3600, std::stoi(line.substr(12))));
    } catch (...) {
      st->retryAfter = 0;
    }
  }
  if (lower.rfind("content-type:", 0) == 0) st->contentType = lower.substr(13);
  return size * n;
}

void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string sopUidOf(const json& item, const char* tag) {
  if (!item.contains(tag)) return {};
  const auto& v = item[tag];
  if (v.contains("Value") && v["Value"].is_array() && !v["Value"].empty() && v["Value"][0].is_string()) {
    return v["Value"][0].get<std::string>();
  }
  return {};
}

std::string numberOf(const json& item, const char* tag) {
  if (!item.contains(tag) || !item[tag].contains("Value") || item[tag]["Value"].empty()) return {};
  const auto& x = item[tag]["Value"][0];
  if (x.is_number_integer()) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%04X", static_cast<unsigned>(x.get<long long>() & 0xFFFF));
    return hex;
  }
  return x.is_string() ? x.get<std::string>() : std::string();
}

}  // namespace

namespace {

// The native DICOM model in XML (PS3.19): the same sequences as the JSON form,
// read without an XML library: every <DicomAttribute tag="..."> element of
// the two sequences, with the Value of its SOP Instance UID and reasons.
json xmlToJson(const std::string& xml) {
  json out = json::object();
  auto attrEnd = [&](std::size_t from) { return xml.find("</DicomAttribute>", from); };
  auto valueOf = [&](std::size_t from, std::size_t to) -> std::string {
    auto v = xml.find("<Value", from);
    if (v == std::string::npos || v > to) return {};
    auto gt = xml.find('>', v);
    auto lt = xml.find("</Value>", gt);
    if (gt == std::string::npos || lt == std::string::npos || lt > to) return {};
    return xml.substr(gt + 1, lt - gt - 1);
  };
  for (const char* seqTag : {"00081199", "00081198"}) {
    auto seq = xml.find(std::string("tag=\"") + seqTag + "\"");
    if (seq == std::string::npos) continue;
    json items = json::array();
    std::size_t pos = seq;
    // Items of the sequence: each <Item> up to </Item>.
    while (true) {
      auto item = xml.find("<Item", pos);
      if (item == std::string::npos) break;
      auto itemEnd = xml.find("</Item>", item);
      if (itemEnd == std::string::npos) break;
      // Stop at the end of this sequence (the next top-level sequence starts later).
      auto otherSeq = xml.find(std::string("tag=\"") + (std::string(seqTag) == "00081199" ? "00081198" : "00081199") + "\"", seq);
      if (otherSeq != std::string::npos && otherSeq > seq && item > otherSeq) break;
      json entry = json::object();
      for (const char* tag : {"00081155", "00081196", "00081197"}) {
        auto a = xml.find(std::string("tag=\"") + tag + "\"", item);
        if (a == std::string::npos || a > itemEnd) continue;
        std::string v = valueOf(a, std::min(attrEnd(a), itemEnd));
        if (v.empty()) continue;
        if (std::string(tag) == "00081155") {
          entry[tag] = {{"Value", json::array({v})}};
        } else {
          try {
            entry[tag] = {{"Value", json::array({std::stoll(v)})}};
          } catch (...) {
          }
        }
      }
      items.push_back(entry);
      pos = itemEnd + 7;
    }
    out[seqTag] = {{"Value", items}};
  }
  return out;
}

}  // namespace

std::vector<StowOutcome> parseStowResponse(const std::string& body, long httpStatus,
                                           const std::vector<std::string>& uids) {
  std::vector<StowOutcome> out;
  for (const auto& u : uids) out.push_back(StowOutcome{u, false, false, ""});
  auto first = body.find_first_not_of(" \t\r\n");
  auto j = first != std::string::npos && body[first] == '<' ? xmlToJson(body) : json::parse(body, nullptr, false);
  if (j.is_array() && !j.empty()) j = j[0];
  auto find = [&](const std::string& uid) -> StowOutcome* {
    for (auto& o : out) {
      if (o.sopInstanceUid == uid) return &o;
    }
    return nullptr;
  };
  bool listed = false;
  if (j.is_object()) {
    // Referenced SOP Sequence (0008,1199): stored, perhaps with a Warning Reason.
    if (j.contains("00081199") && j["00081199"].contains("Value")) {
      for (const auto& item : j["00081199"]["Value"]) {
        if (auto* o = find(sopUidOf(item, "00081155"))) {
          o->stored = true;
          std::string warn = numberOf(item, "00081196");
          o->reason = warn.empty() ? "" : "stored with warning " + warn;
          listed = true;
        }
      }
    }
    // Failed SOP Sequence (0008,1198) with Failure Reason (0008,1197).
    if (j.contains("00081198") && j["00081198"].contains("Value")) {
      for (const auto& item : j["00081198"]["Value"]) {
        if (auto* o = find(sopUidOf(item, "00081155"))) {
          std::string why = numberOf(item, "00081197");
          o->stored = false;
          // A700-A7FF: out of resources; C0xx/A9xx and others are final.
          o->retryable = why.rfind("A7", 0) == 0;
          o->reason = "the server refused the instance (failure reason " + (why.empty() ? "not given" : why) + ")";
          listed = true;
        }
      }
    }
  }
  if (!listed) {
    // No per-instance answer: the HTTP status speaks for the batch.
    for (auto& o : out) {
      o.stored = httpStatus == 200;
      o.reason = o.stored ? "" : "HTTP " + std::to_string(httpStatus) + " without a per-instance answer";
    }
  }
  for (auto& o : out) {
    if (!o.stored && o.reason.empty()) o.reason = "not listed as stored in the server's response";
  }
  return out;
}

struct StowClient::Impl {
  CloudDestination dest;
  std::unique_ptr<CURL, CurlDeleter> curl;
  std::string accessToken;
  std::chrono::steady_clock::time_point tokenExpires{};
  int retryAfter = 0;

  void common(CURL* c) {
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
    if (!dest.caFile.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, dest.caFile.c_str());
    if (!dest.certFile.empty()) {
      curl_easy_setopt(c, CURLOPT_SSLCERT, dest.certFile.c_str());
      curl_easy_setopt(c, CURLOPT_SSLKEY, dest.keyFile.c_str());
    }
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, dest.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(dest.timeoutSeconds));
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  }

  static Error curlError(CURLcode rc, const std::string& url) {
    bool tls = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM ||
               rc == CURLE_SSL_CONNECT_ERROR;
    if (rc == CURLE_PEER_FAILED_VERIFICATION) {
      return makeError("TLS_VERIFY", url + ": the server's certificate is not trusted or does not match its name (" +
                                         curl_easy_strerror(rc) + "); nothing was sent",
                       false);
    }
    return makeError(tls ? "TLS_ERROR" : "HTTP_TRANSPORT", url + ": " + curl_easy_strerror(rc), !tls);
  }

  // OAuth2 client credentials, cached until a minute before expiry.
  Result<std::string> bearer(bool force) {
    if (dest.auth == "bearer") return dest.token;
    if (!force && !accessToken.empty() && std::chrono::steady_clock::now() < tokenExpires) return accessToken;
    std::unique_ptr<CURL, CurlDeleter> c(curl_easy_init());
    common(c.get());
    std::string body;
    std::string form = "grant_type=client_credentials";
    auto enc = [&](const std::string& v) {
      char* e = curl_easy_escape(c.get(), v.c_str(), static_cast<int>(v.size()));
      std::string s = e ? e : "";
      curl_free(e);
      return s;
    };
    if (!dest.scope.empty()) form += "&scope=" + enc(dest.scope);
    curl_easy_setopt(c.get(), CURLOPT_URL, dest.tokenUrl.c_str());
    curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, form.c_str());
    curl_easy_setopt(c.get(), CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c.get(), CURLOPT_USERNAME, dest.clientId.c_str());
    curl_easy_setopt(c.get(), CURLOPT_PASSWORD, dest.clientSecret.c_str());
    curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(c.get());
    if (rc != CURLE_OK) return curlError(rc, dest.tokenUrl);
    long status = 0;
    curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &status);
    auto j = json::parse(body, nullptr, false);
    if (status != 200 || !j.is_object() || !j.contains("access_token") || !j["access_token"].is_string()) {
      return makeError("AUTH_FAILED", "the token endpoint refused the client credentials (HTTP " +
                                          std::to_string(status) + ")",
                       status >= 500);
    }
    accessToken = j["access_token"].get<std::string>();
    long long expires = j.contains("expires_in") && j["expires_in"].is_number() ? j["expires_in"].get<long long>() : 300;
    tokenExpires = std::chrono::steady_clock::now() + std::chrono::seconds(std::max(10LL, expires - 60));
    return accessToken;
  }
};

StowClient::StowClient(CloudDestination dest) : impl_(std::make_unique<Impl>()) {
  initCurlOnce();
  impl_->dest = std::move(dest);
  impl_->curl.reset(curl_easy_init());
}

StowClient::~StowClient() = default;

int StowClient::retryAfterSeconds() const { return impl_->retryAfter; }

Result<std::vector<StowOutcome>> StowClient::post(const std::string& studyUid, std::vector<StowPart> parts) {
  impl_->retryAfter = 0;
  std::random_device rd;
  std::string boundary = "DiscBridge-" + std::to_string(rd()) + "-" + std::to_string(rd());
  std::string body;
  std::size_t total = 0;
  for (const auto& p : parts) total += p.bytes.size() + 128;
  body.reserve(total + 64);
  std::vector<std::string> uids;
  for (auto& p : parts) {
    body += "--" + boundary + "\r\nContent-Type: application/dicom\r\n\r\n";
    body += p.bytes;
    body += "\r\n";
    uids.push_back(p.sopInstanceUid);
    std::string().swap(p.bytes);
  }
  body += "--" + boundary + "--\r\n";
  std::string base = impl_->dest.baseUrl;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string url = base + "/studies" + (studyUid.empty() ? "" : "/" + studyUid);

  for (int authTry = 0; authTry < 2; ++authTry) {
    CURL* c = impl_->curl.get();
    curl_easy_reset(c);
    impl_->common(c);
    Slist headers(curl_slist_append(nullptr, ("Content-Type: multipart/related; type=\"application/dicom\"; boundary=" +
                                              boundary).c_str()));
    curl_slist_append(headers.get(), "Accept: application/dicom+json");
    curl_slist_append(headers.get(), "Expect:");  // no 100-continue round trip
    const auto& a = impl_->dest.auth;
    if (a == "basic") {
      curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(c, CURLOPT_USERNAME, impl_->dest.user.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, impl_->dest.password.c_str());
    } else if (a == "bearer" || a == "oauth2") {
      auto tok = impl_->bearer(authTry > 0);
      if (!tok) return tok.error();
      curl_slist_append(headers.get(), ("Authorization: Bearer " + *tok).c_str());
    }
    std::string response;
    HeaderState hs;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, onHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hs);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) return Impl::curlError(rc, url);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    impl_->retryAfter = hs.retryAfter;
    if (status == 401 && a == "oauth2" && authTry == 0) continue;  // the token may have expired: fetch one more
    if (status == 401 || status == 403) {
      return makeError("AUTH_FAILED", url + ": the server refused our credentials (HTTP " + std::to_string(status) + ")",
                       false);
    }
    if (status == 408 || status == 429 || status >= 500) {
      return makeError("HTTP_BUSY", url + ": HTTP " + std::to_string(status) + ", will retry", true);
    }
    if (status == 415) return makeError("HTTP_UNSUPPORTED", url + ": the server does not accept application/dicom", false);
    if (status == 404) return makeError("HTTP_NOT_FOUND", url + ": no STOW-RS service at this URL (HTTP 404)", false);
    return parseStowResponse(response, status, uids);
  }
  return makeError("AUTH_FAILED", url + ": the server refused a fresh token", false);
}

}  // namespace discbridge::uplink
