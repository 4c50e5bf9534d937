#!/usr/bin/env bash
# Reproduces docs/studies/control-plane-at-1m.md: sweeps the node count of
# scenarios/control-plane-1m.toml at lease renew intervals of 10, 20 and 40 s,
# with one store and with leases and events in stores of their own (the
# scenario's [[variants]]), over $SEEDS seeds (3), and prints one table row
# per run. Needs a release build of ksim and python3.
#
#   cargo build --release && docs/studies/control-plane-at-1m.sh [OUT_DIR]
set -euo pipefail

ksim=${KSIM:-target/release/ksim}
out=${1:-results/studies/control-plane-at-1m}
seeds=${SEEDS:-3}

# One sweep: the scenario's [[variants]] (one store, or leases and events in
# stores of their own) × node count × lease renew interval × seeds. Runs in
# parallel as far as memory allows; --shard I/N splits it over machines
# (docs/scale-out.md).
"$ksim" sweep scenarios/control-plane-1m.toml --out "$out" --force --seeds "$seeds" \
    --set 'node_pools[0].count=100000,200000,300000,400000,500000,700000,1000000' \
    --set 'node_lifecycle.lease_renew_interval=10s,20s,40s' >/dev/null

# One table row per run, from each run's summary.json.
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
manifest = json.load(open(f"{out}/manifest.json"))
print("| variant | seed | stores: peak leader-cpu demand / capacity | first to saturate |")
print("|---|---|---|---|")
for run in manifest["runs"]:
    cp = json.load(open(f"{out}/runs/{run['dir']}/summary.json"))["control_plane"]
    def entry(component, resource):
        for b in cp["bottlenecks"]:
            if b["component"] == component and b["resource"] == resource:
                return b
        return None
    cells = [manifest["variants"][run["variant"]], str(run["seed"])]
    stores = []
    for store in [s["name"] for s in cp["stores"]]:
        cpu = entry("store/" + store, "leader cpu")
        quota = entry("store/" + store, "quota")
        sat = cpu["first_saturated_s"]
        nospace = quota["first_saturated_s"]
        stores.append(f"{store}: cpu {cpu['peak_utilization']:.2f}"
                      + (f" (saturated {sat:.0f} s)" if sat is not None else "")
                      + (f", NOSPACE {nospace:.0f} s" if nospace is not None else ""))
    cells.append("; ".join(stores))
    cells.append(cp["verdict"])
    print("| " + " | ".join(cells) + " |")
PY
echo "comparison over seeds: $out/comparison.csv and $out/report.html"
