// Syslog over TLS (RFC 5425) to an audit record repository: each message an
// RFC 5424 record, octet-counted, on one verified TLS connection kept open
// between batches.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "discbridge/ingest/result.h"

namespace discbridge::uplink {

struct SyslogTarget {
  std::string host;
  int port = 6514;
  std::string caFile;            // empty: the system's CAs
  std::string certFile, keyFile;  // our client certificate, where the collector wants one
  int timeoutSeconds = 10;
};

// tls://host[:port]
Result<SyslogTarget> parseSyslogUrl(const std::string& url);

// One RFC 5424 record: facility authpriv (10), severity notice (5) or warning
// (4) for a failure, the given MSGID, no structured data.
std::string syslogRecord(const std::string& timestamp, const std::string& hostName, const std::string& appName,
                         const std::string& msgId, const std::string& message, bool failure);

class SyslogTlsClient {
 public:
  explicit SyslogTlsClient(SyslogTarget target);
  ~SyslogTlsClient();
  SyslogTlsClient(const SyslogTlsClient&) = delete;
  SyslogTlsClient& operator=(const SyslogTlsClient&) = delete;

  // Sends every record or fails: unreachable or refusing collectors are
  // retryable errors, a certificate that does not verify is not.
  Result<void> send(const std::vector<std::string>& records);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace discbridge::uplink
