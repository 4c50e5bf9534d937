#!/usr/bin/env bash
# Reproduces the "When the control plane breaks, the nodes feel it" section
# of docs/studies/control-plane-at-1m.md: scenarios/control-plane-1m.toml
# (1M nodes, one default store) run for 15 minutes as it is (NOSPACE after a
# minute) and with a 64 GiB quota (no NOSPACE within the run: the 429s
# alone), printing the node-lifecycle controller's view row by row. Needs a
# release build of ksim and python3.
#
#   cargo build --release && docs/studies/control-plane-cascade.sh [OUT_DIR]
set -euo pipefail

ksim=${KSIM:-target/release/ksim}
base=scenarios/control-plane-1m.toml
out=${1:-results/studies/control-plane-cascade}
mkdir -p "$out"

variant() { # name quota
    local name=$1 quota=$2 file="$out/scenario-$1.toml"
    sed -e 's/^duration = "10m"/duration = "15m"/' \
        -e "s/^name = \"control-plane-1m\"/name = \"control-plane-cascade-$name\"/" \
        "$base" >"$file"
    if [ -n "$quota" ]; then
        cat >>"$file" <<TOML

[[control_plane.stores]]
name = "main"
quota = "$quota"
TOML
    fi
    "$ksim" run "$file" --out "$out/$name" --force --no-plots >/dev/null
    python3 - "$out/$name" "$name" <<'PY'
import csv, collections, json, sys
d, name = sys.argv[1:]
nl = collections.defaultdict(dict)
for r in csv.DictReader(open(f"{d}/node_lifecycle.csv")):
    nl[float(r["time_s"])][f"{r['component']}/{r['metric']}"] = r["value"]
cp = collections.defaultdict(dict)
for r in csv.DictReader(open(f"{d}/control_plane.csv")):
    if r["component"] == "store/main":
        cp[float(r["time_s"])][r["metric"]] = r["value"]
tl = {float(r["time_s"]): r for r in csv.DictReader(open(f"{d}/timeline.csv"))}
summary = json.load(open(f"{d}/summary.json"))
store = summary["control_plane"]["stores"][0]
print(f"\n{name}: NOSPACE at {store['nospace_alarm_at_s']} s, pods evicted {summary['pods_evicted']}\n")
print("| time | store writes/s | 429 + refused / s (apiserver) | lease renewals stored | lease ack lag | NOSPACE | stale cohorts | nodes NotReady | zone state | taint rate /s | awaiting taint | evicted (total) | pods pending |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
states = {"0": "normal", "1": "partial", "2": "full", "": "initial"}
cps = collections.defaultdict(dict)
for r in csv.DictReader(open(f"{d}/control_plane.csv")):
    if r["component"] == "apiserver" and r["metric"] == "rejected_429_per_s":
        cps[float(r["time_s"])]["429"] = r["value"]
for t in sorted(nl):
    if t > 180 and t % 60:
        continue
    n, c = nl[t], cp[t]
    rej = float(cps[t].get("429") or 0) * 3 + float(c.get("rejected_per_s") or 0)
    print(f"| {t:.0f} s | {float(c['writes_per_s']):,.0f} | {rej:,.0f} | "
          f"{100 * float(n['node_lifecycle/lease_stored_fraction']):.1f}% | "
          f"{float(n['node_lifecycle/lease_ack_lag_ms']):.0f} ms | {c['nospace_alarm']} | "
          f"{n['node_lifecycle/lease_cohorts_stale']} | {int(float(n['node_lifecycle/nodes_not_ready'])):,} | "
          f"{states[n['zone/0/state']]} | {n['zone/0/taint_rate_per_s']} | "
          f"{int(float(n['zone/0/nodes_awaiting_taint'])):,} | {int(float(n['node_lifecycle/pods_evicted'])):,} | "
          f"{int(tl[t]['pods_pending']):,} |")
PY
}

variant nospace ""
variant no-nospace "64Gi"
