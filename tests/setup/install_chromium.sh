#!/usr/bin/env bash
# Install Debian's Chromium for the coder's-page browser test (tests/service/test_page_browser.py).
# The test calls this itself when /usr/bin/chromium is missing; it can also be run by hand.
# Playwright drives this system browser; no browser is downloaded from Playwright's CDN.
set -euo pipefail

CHROMIUM="${DERMCODER_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    echo "chromium already installed: $CHROMIUM"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get not found: install Chromium with this system's package manager, or set DERMCODER_CHROMIUM" >&2
    exit 2
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "not root and no password-less sudo: run 'sudo apt-get install chromium' once" >&2
    exit 3
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for another apt run (unattended upgrades on a fresh CI machine) instead of failing on its lock.
APT_OPTS=(-q -o DPkg::Lock::Timeout=300)
"${SUDO[@]}" apt-get "${APT_OPTS[@]}" update
"${SUDO[@]}" apt-get "${APT_OPTS[@]}" install -y chromium
"$CHROMIUM" --version
