#!/usr/bin/env bash
# Install qcpipe with its test dependencies into .venv and run the whole test suite
# (real Whisper model on real audio, real SQLite, a real browser). Extra arguments go to pytest.
set -euo pipefail
QCPIPE_EXTRAS=test
source "$(dirname "$0")/bootstrap.sh"
# The HTML reports are checked in a real browser: Debian's Chromium, installed when missing
# and this machine lets us (root with apt); without it those tests are skipped, saying why.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing chromium for the browser tests …" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "could not install chromium: the browser tests will be skipped" >&2
fi
exec .venv/bin/python -m pytest -q "$@"
