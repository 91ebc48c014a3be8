#!/usr/bin/env bash
# Installs every Debian package DiscBridge needs to build, test and demo.
# Idempotent: packages already present are skipped; run as root (or via sudo).
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config git
  # libraries
  libdcmtk-dev libcdio-dev libiso9660-dev libudf-dev
  qt6-base-dev libcurl4-openssl-dev libssl-dev libsqlite3-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libtomlplusplus-dev
  # tests, fixtures, fuzzing
  libgtest-dev googletest dcmtk libcdio-utils xorriso genisoimage udftools
  clang libclang-rt-14-dev openssl
  # services the later delivery tests start on loopback
  orthanc orthanc-dicomweb nginx-light curl fonts-dejavu-core rsyslog rsyslog-gnutls
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deploy: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "deploy: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Services must not start at install time on a kiosk build box; tests start their own.
$SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d'
trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
