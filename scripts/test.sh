#!/usr/bin/env bash
# Install qcpipe with its test dependencies into .venv and run the whole test suite
# (real Whisper model on real audio, real SQLite and PostgreSQL, a real browser). Extra arguments go to pytest.
set -euo pipefail
QCPIPE_EXTRAS=test,postgres,ray
# The PostgreSQL server the database tests also run on (a schema per test); -m "not postgres" skips them.
export QCPIPE_TEST_PG=${QCPIPE_TEST_PG:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
source "$(dirname "$0")/bootstrap.sh"
# The HTML reports and the web workspace are checked in a real browser: Debian's Chromium (driven
# through the Playwright package of the test extra; never `playwright install`, no browser is
# downloaded), with a CJK font so that screenshots show Chinese, not boxes. Installed when missing
# and this machine lets us (root with apt); without Chromium those tests are skipped, saying why
# (under CI=true the web workspace's browser tests fail instead).
missing=()
command -v chromium >/dev/null || missing+=(chromium)
{ command -v fc-list >/dev/null && [ -n "$(fc-list :lang=zh family)" ]; } || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} for the browser tests …" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
    || echo "could not install ${missing[*]}: the browser tests may be skipped" >&2
fi
.venv/bin/python -c 'import playwright.sync_api' \
  || { echo "the playwright package of the test extra is missing from .venv" >&2; exit 1; }
# Two test processes (pytest-xdist): most tests keep one core busy, not two. "-n 0" runs them in one.
exec .venv/bin/python -m pytest -q -n 2 --dist loadfile "$@"
