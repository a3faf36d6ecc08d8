# One image for every Lango process (api, worker, radius, migrate): Node 20 + Debian's
# FreeRADIUS 3.2 with its PostgreSQL driver, and the project's freeradius/ overlay.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends freeradius freeradius-postgresql freeradius-utils ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/lango
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY db ./db
COPY bench ./bench
# Some benchmarks reuse test helpers (network namespaces, a TCP proxy, free ports); tsc builds bench/.
COPY tests/helpers ./tests/helpers
COPY freeradius ./freeradius
COPY mikrotik ./mikrotik
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
ENV LANGO_ENV=production LANGO_STATE_DIR=/var/lib/lango
RUN mkdir -p /var/lib/lango && chown node:node /var/lib/lango
USER node
ENTRYPOINT ["node", "bin/lango"]
CMD ["api"]
