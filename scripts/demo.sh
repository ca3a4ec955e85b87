#!/usr/bin/env bash
# Install qcpipe into .venv and run the nightly job on the bundled sample calls
# (embedded Whisper base model, SQLite database in var/demo.db), then show the result.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
export QCPIPE_DB="sqlite:///$PWD/var/demo.db"
mkdir -p var
set +e
.venv/bin/qcpipe run samples --manifest samples/calls.csv
status=$?
set -e
.venv/bin/qcpipe calls
.venv/bin/qcpipe transcript D110008
.venv/bin/qcpipe flagged
echo
echo "Database: var/demo.db — try: QCPIPE_DB=$QCPIPE_DB .venv/bin/qcpipe export transcripts --format jsonl"
exit $status
