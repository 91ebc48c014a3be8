// A throwaway CA (ca.pem), an unrelated one (other.pem) and a server
// certificate for localhost and 127.0.0.1 signed by the first (srv.pem,
// srv.key), made with the openssl command line.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace discbridge::test {

inline bool makeTestCertificates(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::string cmd =
      "cd '" + dir.string() + "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=Test CA'"
      " && openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 -subj '/CN=Other CA'"
      " && openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj '/CN=localhost'"
      " && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext.cnf"
      " && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext.cnf";
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

}  // namespace discbridge::test
