#!/bin/sh
# Start a Rok node in a container: create the home on first start, log in to the registry
# when one is given, configure the object-storage tier when one is given, then run the
# daemon in the foreground (SIGTERM from `docker stop` stops it cleanly).
#
#   ROK_HOME              the home (a volume), default /var/lib/rok
#   ROK_REGISTRY_URL      registry to log in to (optional), with ROK_REGISTRY_TOKEN
#   ROK_TIER_ENDPOINT     S3-compatible endpoint for the tier (optional), with ROK_TIER_BUCKET,
#                         ROK_TIER_PREFIX and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
#   ROK_NODE_ARGS         extra arguments for `rok node start`, e.g. --bootstrap ADDR
set -eu
: "${ROK_HOME:=/var/lib/rok}"
export ROK_HOME
if [ ! -f "$ROK_HOME/rok.json" ]; then
  rok init
fi
if [ -n "${ROK_REGISTRY_URL:-}" ] && [ ! -f "$ROK_HOME/registry.json" ]; then
  # the registry may still be starting: try for a minute
  tries=0
  until rok login "$ROK_REGISTRY_URL" --token "$ROK_REGISTRY_TOKEN"; do
    tries=$((tries + 1))
    [ "$tries" -ge 30 ] && exit 1
    sleep 2
  done
fi
if [ -n "${ROK_TIER_ENDPOINT:-}" ]; then
  rok tier set --endpoint "$ROK_TIER_ENDPOINT" --bucket "${ROK_TIER_BUCKET:-rok}" --prefix "${ROK_TIER_PREFIX:-$(hostname)}" --path-style
fi
# shellcheck disable=SC2086
exec rok node start --listen /ip4/0.0.0.0/tcp/4001 --api 0.0.0.0:7500 ${ROK_NODE_ARGS:-}
