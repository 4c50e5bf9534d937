#!/usr/bin/env bash
# Reproduces docs/studies/control-plane-at-1m.md: sweeps the node count of
# scenarios/control-plane-1m.toml at lease renew intervals of 10, 20 and 40 s,
# with one store and with leases and events in stores of their own, and
# prints one table row per run. Needs a release build of ksim and python3.
#
#   cargo build --release && docs/studies/control-plane-at-1m.sh [OUT_DIR]
set -euo pipefail

ksim=${KSIM:-target/release/ksim}
base=scenarios/control-plane-1m.toml
out=${1:-results/studies/control-plane-at-1m}
mkdir -p "$out"

variant() { # nodes lease_s layout
    local nodes=$1 lease=$2 layout=$3 file
    file="$out/scenario-$layout-${lease}s-$nodes.toml"
    sed -e "s/^count = 1_000_000/count = $nodes/" \
        -e "s/^lease_renew_interval = \"10s\"/lease_renew_interval = \"${lease}s\"/" \
        -e "s/^name = \"control-plane-1m\"/name = \"control-plane-$layout-${lease}s-$nodes\"/" \
        "$base" >"$file"
    if [ "$layout" = split ]; then
        cat >>"$file" <<'TOML'

[[control_plane.stores]]
name = "main"
[[control_plane.stores]]
name = "leases"
[[control_plane.stores]]
name = "events"
[control_plane.routing]
leases = "leases"
events = "events"
TOML
    fi
    echo "$file"
}

run() { # nodes lease_s layout
    local file dir
    file=$(variant "$@")
    dir="$out/$(basename "$file" .toml | sed 's/^scenario-//')"
    "$ksim" run "$file" --out "$dir" --force >/dev/null
    python3 - "$dir/summary.json" "$@" <<'PY'
import json, sys
path, nodes, lease, layout = sys.argv[1:]
cp = json.load(open(path))["control_plane"]
def entry(component, resource):
    for b in cp["bottlenecks"]:
        if b["component"] == component and b["resource"] == resource:
            return b
    return None
cells = [layout, lease + "s", nodes]
for store in [s["name"] for s in cp["stores"]]:
    cpu = entry("store/" + store, "leader cpu")
    quota = entry("store/" + store, "quota")
    sat = cpu["first_saturated_s"]
    nospace = quota["first_saturated_s"]
    cells.append(f"{store}: cpu {cpu['peak_utilization']:.2f}"
                 + (f" (saturated {sat:.0f} s)" if sat is not None else "")
                 + (f", NOSPACE {nospace:.0f} s" if nospace is not None else ""))
cells.append(cp["verdict"])
print("| " + " | ".join(cells) + " |")
PY
}

echo "| layout | lease renew | nodes | stores: peak leader-cpu demand / capacity | first to saturate |"
echo "|---|---|---|---|---|"
for lease in 10 20 40; do
    for nodes in 100000 200000 300000 400000 500000 700000 1000000; do
        run "$nodes" "$lease" single
    done
done
for nodes in 100000 400000 1000000; do
    run "$nodes" 10 split
done
