#!/bin/sh
# Reproduces docs/studies/elastic-workers.md: the day of scenarios/elastic-workers.toml
# and its running-executions threshold at 60%, 80% and 95% of the maximum.
# Run from the repository root after `cargo build --release`.
set -eu
out=${1:-results/elastic-workers}
mkdir -p "$out"
for percent in 60 80 95; do
  # 10 executions per worker at most: the threshold per worker.
  target=$(awk "BEGIN { print 10 * $percent / 100 }")
  scenario="$out/elastic-workers-$percent.toml"
  sed "s/{ metric = \"running_executions\", target = 8,/{ metric = \"running_executions\", target = $target,/" \
    scenarios/elastic-workers.toml > "$scenario"
  ./target/release/ksim run "$scenario" --out "$out/$percent" --force > /dev/null
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
print("| threshold | worker-hours | queue wait mean (s) | queue wait p99 (s) | queue wait max (s) | requeued | cold starts | cold-start wait max (s) | queued at end |")
print("|---|---|---|---|---|---|---|---|---|")
for percent in (60, 80, 95):
    s = json.load(open(f"{out}/{percent}/summary.json"))
    w = s["workloads"][0]
    e = w["executions"]
    wait = e["queue_wait_ms"]
    cold = e["cold_start_wait_ms"] or {"count": 0, "max": 0}
    print(f"| {percent}% ({10 * percent / 100:g} per worker) | {w['replica_seconds'] / 3600:.1f} | "
          f"{wait['mean'] / 1000:.3f} | {wait['p99'] / 1000:.1f} | {wait['max'] / 1000:.1f} | "
          f"{e['requeued']} | {cold['count']} | {cold['max'] / 1000:.1f} | {e['queued_at_end']} |")
print()
print("The day at 80%, hourly: hour, executions/s, ready workers, running, queued")
import csv
for r in csv.DictReader(open(f"{out}/80/workloads.csv")):
    t = float(r["time_s"])
    if t % 7200 == 0:
        print(int(t // 3600), r["load_per_s"], r["replicas_ready"], r["running_executions"], r["queue_length"])
PY
