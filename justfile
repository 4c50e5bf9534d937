# Everyday recipes. `just --list` shows them.

# Run the quickstart scenario.
run scenario="scenarios/quickstart.toml" out="results/quickstart":
    cargo run --release -- run {{scenario}} --out {{out}} --force

# Check a scenario without running it.
validate scenario="scenarios/quickstart.toml":
    cargo run --release -- validate {{scenario}}

# The test suite, exactly as CI runs it.
test:
    .ci/run

# Criterion benchmarks (event queue, scheduling decisions at 10^6 nodes).
bench:
    cargo bench -p ksim-benches

# The 1,000,000-node, 5,000,000-pod run, with peak memory reported.
million:
    cargo build --release
    /usr/bin/time -v target/release/ksim run scenarios/million-nodes.toml --out results/million-nodes --force

# kube-scheduler mode at 100,000 nodes and 1,000,000 pods.
kube-100k:
    cargo build --release
    /usr/bin/time -v target/release/ksim run scenarios/kube-100k.toml --out results/kube-100k --force

# Re-bless the golden test expectations after an intended output change.
bless:
    KSIM_BLESS=1 cargo test --release -p ksim-cli --test golden

# Reproduce docs/studies/control-plane-at-1m.md (24 runs, about 15 s).
study-control-plane out="results/studies/control-plane-at-1m":
    cargo build --release
    docs/studies/control-plane-at-1m.sh {{out}}
