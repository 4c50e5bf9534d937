# ksim in a container image, for sweeps sharded over a Kubernetes Indexed
# Job or any batch engine (docs/scale-out.md).
#
#   docker build -t ksim:0.1.0 .
#   docker run --rm -v "$PWD/results:/results" ksim:0.1.0 \
#       compare /scenarios/compare-autoscalers.toml --out /results/cmp
FROM rust:1.87-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ksim-cli

# The binary needs no system library (plots use an embedded font); the
# shell lets a Job's command read JOB_COMPLETION_INDEX into --out.
FROM debian:bookworm-slim
COPY --from=build /src/target/release/ksim /usr/local/bin/ksim
COPY scenarios /scenarios
WORKDIR /results
ENTRYPOINT ["ksim"]
