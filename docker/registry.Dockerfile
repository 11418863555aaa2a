# The Rok registry: users, groups, ACLs, buckets, version references, grants, search.
# Build from the repository root:  docker build -f docker/registry.Dockerfile -t rok-registry .
# The admin token comes from $ROK_ADMIN_TOKEN (else it is generated and printed once).
FROM node:24-bookworm-slim
WORKDIR /opt/rok
COPY package.json package-lock.json ./
COPY kale/npm kale/npm
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY protocol protocol
COPY server server
COPY node node
COPY registry registry
COPY kale kale
COPY bin bin
RUN ln -s /opt/rok/bin/rok.js /usr/local/bin/rok
VOLUME /var/lib/rok-registry
EXPOSE 7447
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s CMD ["node", "-e", "fetch('http://127.0.0.1:7447/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["rok", "registry", "start", "--listen", "0.0.0.0:7447", "--data", "/var/lib/rok-registry"]
