#!/usr/bin/env bash
# Run every benchmark once, in order; each prints its figures and writes them to
# bench/results/<script>-<date>.txt (excel_io and merge_thresholds write JSON there).
# One model is trained into a temporary home first and shared by the scripts (BENCH_HOME);
# it is removed at the end. The HTTP load test uses wrk when installed
# (apt-get install -y wrk), else an async httpx client; both only target 127.0.0.1.
#
#   bash bench/run_all.sh            # everything (about 15 minutes on 2 cores)
#   bash bench/run_all.sh peers      # only the named scripts
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || bash scripts/bootstrap

BENCH_HOME=$(mktemp -d /tmp/router-bench.XXXXXX)
export BENCH_HOME
trap 'rm -rf "$BENCH_HOME"' EXIT
"$PY" - <<'PY'
import os, time
from pathlib import Path
from router.settings import get_settings
from router.train import train

home = Path(os.environ["BENCH_HOME"])
start = time.perf_counter()
result = train(get_settings({}, home=home, corpus_path=Path("data/corpus/proposals.csv")), cv=False)
print(f"trained {result.version} into {home} in {time.perf_counter() - start:.1f} s")
PY

scripts=(route_latency throughput batch_workbook merge_speed http_load startup train_scaling peers segmenter_hmm excel_io merge_thresholds)
if [ "$#" -gt 0 ]; then
  scripts=("$@")
fi
for name in "${scripts[@]}"; do
  echo
  echo "=== bench/$name.py"
  "$PY" "bench/$name.py"
done
