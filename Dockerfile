# Greenroom: Backstage-compatible software catalog served over GraphQL.
#
#   docker build -t greenroom .
#   docker run --rm -p 8080:8080 -v greenroom-data:/data \
#     -e GREENROOM_JWT_SECRET=... greenroom
#
# Configuration: GREENROOM_* variables, or mount a config over /app/greenroom.yaml
# (`-v ./greenroom.yaml:/app/greenroom.yaml:ro`). Logs are JSON lines (stderr is not a terminal).
# SQLite lives in the /data volume; for PostgreSQL and replicas see docker-compose.yml.
#
# ---- build stage ---------------------------------------------------------
FROM rust:1-bookworm AS builder

WORKDIR /src
COPY . .

# The GraphiQL assets under api/assets/ are embedded into the binary at
# compile time, so they need no separate copy into the runtime image.
RUN cargo build --release --locked -p api --bin greenroom \
    && mkdir -p examples

# ---- runtime stage -------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 greenroom \
    && useradd --system --uid 10001 --gid greenroom --home-dir /app \
       --no-create-home --shell /usr/sbin/nologin greenroom \
    && mkdir -p /app /data \
    && chown greenroom:greenroom /data

COPY --from=builder /src/target/release/greenroom /usr/local/bin/greenroom
COPY --from=builder /src/examples /app/examples
COPY --from=builder /src/greenroom.yaml /app/greenroom.yaml

WORKDIR /app

# Listening beyond loopback needs authentication: pass GREENROOM_JWT_SECRET (or configure auth.jwt).
ENV GREENROOM_LISTEN=0.0.0.0:8080
ENV GREENROOM_DATABASE_URL="sqlite:///data/greenroom.db?mode=rwc"

VOLUME ["/data"]
USER greenroom:greenroom
EXPOSE 8080

# The image has no curl: the binary checks its own /healthz (GREENROOM_HEALTHCHECK_URL to change it).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["greenroom", "healthcheck", "--url", "http://127.0.0.1:8080"]

ENTRYPOINT ["greenroom"]
CMD ["serve"]
