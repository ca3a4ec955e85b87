#!/usr/bin/env bash
# The GPU figures of the README's "On a GPU", on the card this machine has, in one go: the card,
# the GPU tests, throughput and accuracy against the naive faster-whisper loop (one process, and
# Ray worker processes sharing the card), and where one process holds Python's lock.
#
#   bash scripts/gpu_figures.sh [--repeat 4] [--calls 64] [--ray-workers-per-gpu 2] [--skip-tests] [--skip-gil]
#                               [--variants naive,qcpipe,qcpipe-ray] [--corpus DIR] [--sweep]
#                               [--against CPU_LANES.json]
#
# --against takes a `bench_asr.py --save-lanes` file of the CPU path on the same calls and gives
# each variant's CER less the CPU path's, with a 95 % interval. Take it on the kind of processor
# the CPU path runs on: its speed does not change what it hears, but its int8 kernels do (12.46 %
# on an Intel Xeon, 11.96 % on an AMD EPYC, the same code). The faster settings of padding 2 s and beam 2 (qcpipe-fast,
# qcpipe-ray-fast) heard worse on an H200 and were no faster there, so they are left out unless
# named.
#
# --sweep then tries fuller batches on Ray's workers: decoding threads that gather windows
# before starting beside a batch decoding (`--gpu-batch-min-windows`), fewer of them
# (`--gpu-decoders`, the card's, shared out among the workers), more calls in hand (`--workers`,
# per process), larger batches (`--batch-size`) and a third worker on the card. Until the calls'
# lanes could share a batch (asr.batching) every batch held about one window whatever these were.
#
# The throughput comes first, then the sweep, then the GPU tests (only the modules marked gpu are
# collected, so a machine without the browser tests' packages can run them) and the interpreter
# lock's profile: a lease cut short loses what an earlier card measured already. Each step has
# its own time limit (STEP_TIMEOUT_S, default 300 s), so one that hangs does not take the others
# with it. PYTHON (default python3) is the interpreter qcpipe is installed in.
set -u
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
repeat=4 calls=64 per_gpu=2 tests=1 gil=1 variants=naive,qcpipe,qcpipe-ray corpus=() sweep=0 against=()
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --ray-workers-per-gpu) per_gpu=$2; shift 2 ;;
    --skip-tests) tests=0; shift ;;
    --skip-gil) gil=0; shift ;;
    --variants) variants=$2; shift 2 ;;
    --corpus) corpus=(--corpus "$2"); shift 2 ;;
    --sweep) sweep=1; shift ;;
    --against) against=(--against "$2"); shift 2 ;;
    *) echo "unknown argument: $1 (see the head of $0)" >&2; exit 2 ;;
  esac
done
limit=${STEP_TIMEOUT_S:-300}

step() {  # step TITLE COMMAND...: run it under the time limit, say how it ended
  local title=$1; shift
  echo "== $title"
  local began=$SECONDS
  timeout --kill-after=10 "$limit" "$@"
  local status=$?
  [ $status -eq 124 ] && echo "(stopped after ${limit} s)"
  echo "-- $title: exit $status, $((SECONDS - began)) s"
}

step "card" nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
step "CTranslate2 sees" "$python" -c "import ctranslate2; print(ctranslate2.__version__, ctranslate2.get_cuda_device_count(), 'CUDA device(s)')"
step "throughput and CER" "$python" scripts/bench_asr.py --device cuda --calls "$calls" --repeat "$repeat" \
  --variants "$variants" --ray-workers-per-gpu "$per_gpu" "${corpus[@]}" "${against[@]}"
if [ "$sweep" = 1 ]; then
  # decoding threads on the card, calls in hand per process, windows a batch, gathering, Ray
  # workers on the card (once batches are full, preparing the calls may be what is short)
  for setting in "8 16 16 4 2" "8 32 16 8 2" "4 32 32 8 2" "8 16 16 1 3" "8 32 32 4 3"; do
    set -- $setting
    step "fuller batches: $1 decoding threads, $2 calls in hand, batches of up to $3 windows, gathering $4, $5 workers" \
      "$python" scripts/bench_asr.py --device cuda --calls "$calls" --repeat "$repeat" \
      --variants qcpipe-ray --ray-workers-per-gpu "$5" \
      --gpu-decoders "$1" --workers "$2" --batch-size "$3" --gpu-batch-min-windows "$4" "${corpus[@]}"
  done
fi
if [ "$tests" = 1 ]; then
  step "GPU tests" "$python" -m pytest -q -rs -m gpu -p no:cacheprovider $(grep -rl 'pytest.mark.gpu' tests)
fi
if [ "$gil" = 1 ]; then
  step "the interpreter lock, one process" "$python" scripts/profile_gil.py --device cuda --calls "$calls" "${corpus[@]}"
fi
