#!/usr/bin/env bash
# Install qcpipe into .venv and run the nightly job on the bundled sample calls
# (embedded Whisper base model, SQLite database in var/demo.db), show the result, and say how
# to open the web workspace on it (demo accounts are created once, with the password below).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
export QCPIPE_DB="sqlite:///$PWD/var/demo.db"
mkdir -p var
# Samples checked out or copied moments ago count as recently modified: the run waits out what
# is left of their settle time (`[ingest] settle_s`, 10 s) and transcribes them, however fast
# the install above was. A call that fails is listed, the demo goes on, and its exit code is kept.
set +e
.venv/bin/qcpipe run samples --manifest samples/calls.csv
status=$?
set -e
.venv/bin/qcpipe calls
.venv/bin/qcpipe transcript D110008
.venv/bin/qcpipe flagged
# Demo accounts for the web workspace: a monitor, a QA lead, an admin, and agent A08 (黄蕾, two of the samples).
DEMO_PASSWORD="qcpipe-demo"
existing=$(.venv/bin/qcpipe users list)
for account in "monitor --role monitor" "lead --role qa_lead" "admin --role admin" "A08 --role agent --agent-id A08"; do
  name=${account%% *}
  if ! grep -q "│ $name " <<<"$existing"; then
    # shellcheck disable=SC2086
    echo "$DEMO_PASSWORD" | .venv/bin/qcpipe users add $account --password-stdin >/dev/null
  fi
done
cat <<MSG

Database: var/demo.db — try: QCPIPE_DB=$QCPIPE_DB .venv/bin/qcpipe export transcripts --format jsonl

The web workspace on this database:
  QCPIPE_DB=$QCPIPE_DB .venv/bin/qcpipe serve
  then open http://127.0.0.1:8000/ and log in as monitor (质检员), lead (质检主管), admin, or A08 (坐席),
  password $DEMO_PASSWORD (demo accounts: make real ones with qcpipe users add NAME --role ROLE --password-stdin)
MSG
exit $status
