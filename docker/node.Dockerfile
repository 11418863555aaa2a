# A Rok node: the daemon (libp2p host + local API) with its home on a volume.
# Build from the repository root:  docker build -f docker/node.Dockerfile -t rok-node .
FROM node:24-bookworm-slim
WORKDIR /opt/rok
# Dependencies first, so a source change does not reinstall them.
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
COPY docker/node-entrypoint.sh /usr/local/bin/rok-node-entrypoint
RUN ln -s /opt/rok/bin/rok.js /usr/local/bin/rok
ENV ROK_HOME=/var/lib/rok
VOLUME /var/lib/rok
# 4001: libp2p (other clusters dial it); 7500: the local API (token in $ROK_HOME/api-token)
EXPOSE 4001 7500
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s CMD ["node", "-e", "fetch('http://127.0.0.1:7500/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["rok-node-entrypoint"]
