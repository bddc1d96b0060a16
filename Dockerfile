# Multi-stage build: compile with the full toolchain, ship a slim non-root runtime.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake pkg-config libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY examples examples
RUN cargo build --release --locked --bin gatehouse --example echo_upstream

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home gatehouse
COPY --from=build /src/target/release/gatehouse /usr/local/bin/gatehouse
COPY --from=build /src/target/release/examples/echo_upstream /usr/local/bin/echo_upstream
COPY config/gatehouse.toml /etc/gatehouse/gatehouse.toml
USER gatehouse
EXPOSE 8000 9000
ENV GATEHOUSE_LISTEN=0.0.0.0:8000 GATEHOUSE_ADMIN_LISTEN=0.0.0.0:9000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS http://127.0.0.1:9000/healthz || exit 1
ENTRYPOINT ["gatehouse", "--config", "/etc/gatehouse/gatehouse.toml"]
CMD ["serve"]
