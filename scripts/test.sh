#!/usr/bin/env bash
# Install qcpipe with its test dependencies into .venv and run the whole test suite
# (real Whisper model on real audio, real SQLite). Extra arguments go to pytest.
set -euo pipefail
QCPIPE_EXTRAS=test
source "$(dirname "$0")/bootstrap.sh"
exec .venv/bin/python -m pytest -q "$@"
