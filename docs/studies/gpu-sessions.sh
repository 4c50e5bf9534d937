#!/bin/sh
# Reproduces docs/studies/gpu-sessions.md: the day of GPU sessions under the
# Cluster Autoscaler (scenarios/gpu-sessions.toml) and under the
# Karpenter-like provisioner (scenarios/gpu-sessions-karpenter.toml).
# Run from the repository root after `cargo build --release`.
set -eu
out=${1:-results/gpu-sessions}
mkdir -p "$out"
for s in gpu-sessions gpu-sessions-karpenter; do
  ./target/release/ksim run "scenarios/$s.toml" --out "$out/$s" --force > /dev/null
done
python3 - "$out" <<'PY'
import csv, json, sys
out = sys.argv[1]
print("| autoscaler | users | served | abandoned | requeued | wait p50 (s) | wait p99 (s) | wait max (s) | GPU-h used | GPU-h paid | cost ($) | node types used |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for s, name in (("gpu-sessions", "Cluster Autoscaler"), ("gpu-sessions-karpenter", "Karpenter-like")):
    j = json.load(open(f"{out}/{s}/summary.json"))
    x = j["workloads"][0]["sessions"]
    w = x["queue_wait_ms"]
    cost = sum(p["cost"] for p in j["node_pools"])
    types = ", ".join(f"{p['name'].split('/')[1] if '/' in p['name'] else p['name']} {p['node_hours']:.0f} h"
                      for p in j["node_pools"] if p["node_hours"] > 0)
    print(f"| {name} | {x['arrived']} | {x['started']} | {x['abandoned']} | {x['requeued']} | "
          f"{w['p50'] / 1000:.1f} | {w['p99'] / 1000:.1f} | {w['max'] / 1000:.1f} | "
          f"{x['gpu_hours_used']:.0f} | {x['gpu_hours_paid']:.0f} | {cost:.0f} | {types} |")
PY
