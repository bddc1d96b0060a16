# Multi-stage build: compile with the full toolchain, ship a slim non-root runtime.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake pkg-config libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# The dependencies first, in a layer of their own, against stand-in sources: Pingora and the
# rest (most of the ~5 minutes of a release build) are compiled again only when Cargo.toml or
# Cargo.lock change, not for every edit of gatehouse itself.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src examples \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > examples/echo_upstream.rs \
    && echo 'fn main() {}' > examples/passthrough.rs \
    && cargo build --release --locked --bin gatehouse --example echo_upstream \
    && rm -rf src examples

COPY src src
COPY migrations migrations
COPY examples examples
# COPY keeps the files' own times, which can be older than the stand-ins' build: touch them so
# that cargo rebuilds gatehouse instead of shipping the empty main.
RUN touch src/main.rs src/lib.rs examples/*.rs \
    && cargo build --release --locked --bin gatehouse --example echo_upstream

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 gatehouse \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin gatehouse
COPY --from=build /src/target/release/gatehouse /usr/local/bin/gatehouse
COPY --from=build /src/target/release/examples/echo_upstream /usr/local/bin/echo_upstream
COPY config/gatehouse.toml /etc/gatehouse/gatehouse.toml
# Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000 9000
ENV GATEHOUSE_LISTEN=0.0.0.0:8000 GATEHOUSE_ADMIN_LISTEN=0.0.0.0:9000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:9000/healthz || exit 1
ENTRYPOINT ["gatehouse", "--config", "/etc/gatehouse/gatehouse.toml"]
CMD ["serve"]
