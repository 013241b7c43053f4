#!/usr/bin/env bash
# Installs what revenant needs to build, test and run its demo on Debian 12.
# Idempotent and quick when everything is already there.  Needs root (or
# sudo) for apt-get; npm packages go into the repo's tests/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: compiler, CMake, the libraries revenant links.
pkgs=(build-essential cmake pkg-config git curl ca-certificates
      libcurl4-openssl-dev libxml2-dev libyaml-dev libjansson-dev libssl-dev
      libzstd-dev libmicrohttpd-dev libsqlite3-dev libldns-dev libcmocka-dev clang-format
      # MySQL/MariaDB: Connector/C (libmariadb) to build; the tests start
      # throw-away servers (tests/lib/mariadb.sh); mariadb-dump and zstd
      # for bench/mysql_snapshot.sh.  About 11 s to install here.
      libmariadb-dev mariadb-server mariadb-client zstd
      # openssl: certificates for the TLS case of tests/integration/mysql_check.sh.
      openssl
      # DNS switch tests: a real BIND (named, dig, nsupdate, tsig-keygen).
      bind9 bind9-dnsutils
      # Tests: the real second S3 client, botocore (independent SigV4 check),
      # Python for the small fakes of AWS endpoints, GNU time for RSS.
      awscli python3 python3-botocore time
      # systemd-analyze verify for the units in contrib/systemd.
      systemd
      # Ghost's native modules (sqlite3, re2) build from source.
      g++ make python3-setuptools
      # The container image (deploy/image/build.sh, tests/integration/deploy_image.sh):
      # ICU's tools trim its data library; skopeo/umoci read the OCI layout,
      # runc runs it (crun 1.8 refuses this machine's hybrid cgroups).
      icu-devtools jq skopeo umoci runc
      # The manifests' checks (deploy/check/k8s_check.py); promtool (in
      # Debian's prometheus) checks and unit-tests the alert rules.
      python3-yaml prometheus
      # Benchmarks compare against these.
      # lsyncd + rsync: bench/content_bench.sh; wrk: bench/load_bench.sh;
      # mydumper (and its myloader): bench/mysql_snapshot.sh STORE=s3.
      rclone hyperfine lsyncd rsync wrk mydumper)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "deps: installing ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node.js >= 18 runs s3rver and Ghost 5 (Ghost needs ^18.12.1 || ^20.11.1 || ^22.13.1).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "deps: installing nodejs and npm from Debian"
	DEBIAN_FRONTEND=noninteractive ${sudo:-} apt-get install -y -qq nodejs npm libnode-dev >/dev/null
fi

# npm packages for the tests (s3rver), pinned by tests/package-lock.json.
if [ -f tests/package-lock.json ] && [ ! -f tests/node_modules/.package-lock.json ]; then
	echo "deps: npm ci in tests/"
	(cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi

# npm packages for the deploy/ checks (kubernetes-models, @cdktf/hcl2json),
# pinned by deploy/check/package-lock.json.
if [ -f deploy/check/package-lock.json ] && [ ! -f deploy/check/node_modules/.package-lock.json ]; then
	echo "deps: npm ci in deploy/check/"
	(cd deploy/check && npm ci --no-audit --no-fund --loglevel=error)
fi
