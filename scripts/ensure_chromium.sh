#!/bin/sh
# The report's test opens it in a real headless Chromium (tests/support/browser.py): install
# Debian's `chromium` when it is missing. Idempotent and quiet; needs root (or sudo) and apt.
set -e
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "chromium is missing: install Debian's chromium package" >&2; exit 1; }
    SUDO=sudo
fi
echo "installing chromium (Debian package) for the report test" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq chromium >/dev/null
