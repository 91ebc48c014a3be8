// An image-exchange cloud or another hospital's DICOMweb endpoint as
// destination: STOW-RS (PS3.18 §10.5) over HTTPS with libcurl and OpenSSL.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "discbridge/ingest/result.h"

namespace discbridge::uplink {

struct CloudDestination {
  std::string name;
  std::string baseUrl;  // e.g. https://host/dicom-web
  std::string auth = "none";  // none | basic | bearer | oauth2
  std::string user, password;  // basic
  std::string token;           // bearer
  std::string tokenUrl, clientId, clientSecret, scope;  // oauth2 client credentials
  std::string caFile;          // verification is always on; this adds a CA bundle
  std::string certFile, keyFile;  // client certificate (mutual TLS)
  std::size_t batchBytes = 12u << 20;  // per request; with 2 connections about 50 MB held at most
  std::size_t batchInstances = 50;
  int timeoutSeconds = 120;
  bool http2 = false;
  int maxAttempts = 20;
  int connections = 2;  // parallel persistent connections (1 to 3)
};

// One instance's outcome in a STOW-RS response.
struct StowOutcome {
  std::string sopInstanceUid;
  bool stored = false;
  bool retryable = false;
  std::string reason;
};

struct StowPart {
  std::string sopInstanceUid;
  std::string bytes;  // the Part 10 file as sent
};

class StowClient {
 public:
  explicit StowClient(CloudDestination dest);
  ~StowClient();
  // POSTs one multipart/related batch to {base}/studies/{studyUid}. A
  // transport or HTTP failure of the whole batch is an Error (retryable or
  // not); otherwise one outcome per part.
  // The parts are moved into the request body as it is built, so a batch is
  // held in memory once.
  Result<std::vector<StowOutcome>> post(const std::string& studyUid, std::vector<StowPart> parts);
  int retryAfterSeconds() const;  // from the last 429/503, 0 if none

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses a STOW-RS response body (DICOM JSON) for the given instances.
std::vector<StowOutcome> parseStowResponse(const std::string& body, long httpStatus,
                                           const std::vector<std::string>& sopInstanceUids);

}  // namespace discbridge::uplink
