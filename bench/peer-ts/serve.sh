#!/bin/sh
# Serves the benchmark peer in the foreground:
#   sh bench/peer-ts/serve.sh PORT STATE_DIR [WRANGLER_DEV_OPTION…]
# With the development secrets of .dev.vars.example, offline, local KV/DO state in STATE_DIR.
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 PORT STATE_DIR [WRANGLER_DEV_OPTION...]" >&2
  exit 2
fi
port=$1
state_dir=$2
shift 2
peer=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$peer/../.." && pwd)

# The value of NAME="value" in .dev.vars.example.
dev_var() {
  sed -n "s/^$1=\"\(.*\)\"\$/\1/p" "$root/.dev.vars.example"
}

export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false
export XDG_CONFIG_HOME="$root/.config"
exec "$root/node_modules/.bin/wrangler" dev --config "$peer/wrangler.toml" \
  --ip 127.0.0.1 --port "$port" --persist-to "$state_dir" \
  --var "TELNYX_PUBLIC_KEY:$(dev_var TELNYX_PUBLIC_KEY)" \
  --var "TWILIO_AUTH_TOKEN:$(dev_var TWILIO_AUTH_TOKEN)" "$@"
