# The image docs/ci.md's Kubernetes Job runs: readysim, and the scenarios folder (so a
# search knows the shipped signatures) as the working directory.
#
#   docker build -t your-registry/readysim:latest .
#   docker run --rm your-registry/readysim:latest            # replay every scenario
#   docker run --rm your-registry/readysim:latest readysim explore --seed 1 --cases 2000
#
# Two stages: the toolchain stays in the first, the second holds one binary. The builder's
# Rust is at least Cargo.toml's rust-version (a test checks); its Debian matches the runtime's,
# so the binary's glibc is there.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin readysim

FROM debian:bookworm-slim
COPY --from=build /src/target/release/readysim /usr/local/bin/readysim
COPY scenarios /readysim/scenarios
WORKDIR /readysim
# `readysim real` also needs redis-server: add `apt-get install -y redis-server` for that.
CMD ["readysim"]
