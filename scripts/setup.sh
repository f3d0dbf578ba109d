#!/usr/bin/env bash
# Install what the service needs on Debian (run as root): system packages, then the
# Python packages. `--dev` adds the test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=()
command -v swipl >/dev/null || apt_packages+=(swi-prolog-nox)
# The sandbox's seccomp filter is compiled by libseccomp (through the pyseccomp package).
[[ "$(ldconfig -p 2>/dev/null)" == *"libseccomp.so.2 "* ]] || apt_packages+=(libseccomp2)
python3 -m pip --version >/dev/null 2>&1 || apt_packages+=(python3-pip)
command -v ps >/dev/null || apt_packages+=(procps)
# util-linux's setsid and unshare run in the attack tests (essential in Debian, named to be sure).
[ -x /usr/bin/prlimit ] || apt_packages+=(util-linux)
command -v curl >/dev/null || apt_packages+=(curl)
# The original service's curl examples make session ids with `uuidgen`.
command -v uuidgen >/dev/null || apt_packages+=(uuid-runtime)
# C programs (program cases' `compile`: `gcc -o prog "$PROGRAM"`) and checkers in testlib's
# protocol (docs/api.md §4.3, testlib.h is C++); libc6-dev holds the C library's headers,
# which gcc only recommends.
command -v gcc >/dev/null || apt_packages+=(gcc)
command -v g++ >/dev/null || apt_packages+=(g++)
[ -e /usr/include/stdio.h ] || apt_packages+=(libc6-dev)
if [ ${#apt_packages[@]} -gt 0 ]; then
  # A fresh machine may be running its own apt (unattended upgrades): wait for its lock.
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

requirements=requirements.txt
[ "${1:-}" = "--dev" ] && requirements=requirements-dev.txt
# --break-system-packages: Debian's own python3 refuses plain `pip install` as root (PEP 668);
# this service is meant to own the machine or container it runs in.
python3 -m pip install -q --root-user-action=ignore --break-system-packages -r "$requirements"
