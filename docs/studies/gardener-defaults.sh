#!/bin/sh
# Reproduces docs/studies/gardener-defaults.md: scenarios/gardener-defaults.toml
# with Gardener's scale-down-unneeded-time (30 min, as written) and
# upstream's (10 min). Run from the repository root after `cargo build --release`.
set -eu
out=${1:-results/gardener-defaults}
mkdir -p "$out"
for unneeded in 30m 10m; do
  scenario="$out/gardener-defaults-$unneeded.toml"
  sed "s/^scale_down_unneeded_time = \"30m\"/scale_down_unneeded_time = \"$unneeded\"/" \
    scenarios/gardener-defaults.toml > "$scenario"
  ./target/release/ksim run "$scenario" --out "$out/$unneeded" --force > /dev/null
done
python3 - "$out" <<'PY'
import csv, json, sys
out = sys.argv[1]
print("| unneeded time | node-hours | cost | min nodes | max nodes | scale-ups | nodes removed | pods no group fits | pending p99 (s) |")
print("|---|---|---|---|---|---|---|---|---|")
for unneeded in ("30m", "10m"):
    s = json.load(open(f"{out}/{unneeded}/summary.json"))
    pool = s["node_pools"][0]
    ca = s["node_autoscaler"]
    nodes = [int(r["nodes"]) for r in csv.DictReader(open(f"{out}/{unneeded}/node_pools.csv"))]
    removed = ca["nodes_removed_empty"] + ca["nodes_drained"]
    print(f"| {unneeded} | {pool['node_hours']:.2f} | {pool['cost']:.3f} | {min(nodes)} | {max(nodes)} | "
          f"{ca['scale_ups']} | {removed} | {ca['pods_no_group']} | {s['scheduling_latency_ms']['p99'] / 1000:.1f} |")
for unneeded in ("30m", "10m"):
    print()
    print(f"decisions.csv ({unneeded}), scale-ups, scale-downs and no-scale-ups:")
    for r in csv.DictReader(open(f"{out}/{unneeded}/decisions.csv")):
        if r["action"] != "unremovable":
            print(f"  {float(r['time_s']) / 60:6.1f} min  {r['action']:12} {r['target']:12} {r['current']} -> {r['desired']}  {r['reason']}")
    print(f"  unremovable reasons: " + ", ".join(sorted({r['target'] + ' ' + r['reason'] for r in csv.DictReader(open(f'{out}/{unneeded}/decisions.csv')) if r['action'] == 'unremovable'})))
PY
