#!/bin/sh
# `make bench`: Switchboard and the hand-written TypeScript peer (bench/peer-ts) side by side
# under the same load, CPU per webhook in wasm (V8) and native, and the deployed bundle's size.
# Writes bench/results/latest.json and prints a table (see BENCHMARKS.md).
#
# Expects `make build` (the release worker in build/). Every process it starts runs in its own
# process group and is stopped on exit, also on failure or Ctrl-C.
#
# BENCH_SECONDS (10) per measured run, BENCH_CONNECTIONS (16), BENCH_WARMUP_SECONDS (5),
# BENCH_ROUNDS (2): measured runs per worker of each scenario both workers implement.
# BENCH_LIVE_EVENTS (1000) sequential webhooks per run of the live-sockets scenario (issue 14),
# BENCH_LIVE_ROUNDS (3) runs each with 0 and with 100 sockets on the call, alternating.
# BENCH_DELIVERY_ROUNDS (3) runs each of webhooks with no delivery endpoint and with one
# (bench/delivery.mjs, issue 15), at BENCH_CONNECTIONS for BENCH_SECONDS and at one connection for
# 5 s, alternating which goes first.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS:-16}
warmup=${BENCH_WARMUP_SECONDS:-5}
rounds=${BENCH_ROUNDS:-2}
live_events=${BENCH_LIVE_EVENTS:-1000}
live_rounds=${BENCH_LIVE_ROUNDS:-3}
delivery_rounds=${BENCH_DELIVERY_ROUNDS:-3}
run_dir="$root/target/bench/run-$$"
results="$run_dir/results"
mkdir -p "$results"
# Both workers' local state (SQLite Durable Objects, KV) lives in RAM when the machine has a
# tmpfs: on a VM's disk, the fsyncs of thousands of new SQLite files moved throughput by ±30%
# from one run of the same build to the next and made up most of workerd's CPU time, which
# measured the disk, not the workers. BENCH_STATE_DIR overrides it.
if [ -z "${BENCH_STATE_DIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  state_dir=$(mktemp -d /dev/shm/switchboard-bench.XXXXXX)
else
  state_dir=${BENCH_STATE_DIR:-$run_dir}/state-$$
  mkdir -p "$state_dir"
fi

export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false
export XDG_CONFIG_HOME="$run_dir/.config"

groups=""
# dash's `kill` takes a negative pid (a process group) without `--`, and refuses `--`.
cleanup() {
  for group in $groups; do
    kill -TERM "-$group" 2>/dev/null || true
  done
  sleep 1
  for group in $groups; do
    kill -KILL "-$group" 2>/dev/null || true
  done
  rm -rf "$state_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# start NAME COMMAND…: runs COMMAND in a new process group, output to $run_dir/NAME.log.
start() {
  name=$1
  shift
  setsid "$@" > "$run_dir/$name.log" 2>&1 &
  groups="$groups $!"
  last_group=$!
}

# cpu_ticks GROUP: the CPU ticks (user + system) its processes used so far: `TOOLING WORKERD`,
# wrangler's own processes (node, esbuild) and the runtime's.
cpu_ticks() {
  tooling_ticks=0
  workerd_ticks=0
  for pid in $(pgrep -g "$1"); do
    # Fields after the `(comm)`: 14 utime and 15 stime are the 12th and 13th.
    set -- $(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    ticks=$(( ${12:-0} + ${13:-0} ))
    case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
      workerd) workerd_ticks=$((workerd_ticks + ticks)) ;;
      *) tooling_ticks=$((tooling_ticks + ticks)) ;;
    esac
  done
  echo "$tooling_ticks $workerd_ticks"
}

# wait_ready URL NAME: until URL answers with any HTTP status (at most 90 s).
wait_ready() {
  tries=0
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" != "000" ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 450 ]; then
      echo "bench: $2 did not start; its log:" >&2
      tail -30 "$run_dir/$2.log" >&2
      exit 1
    fi
    sleep 0.2
  done
}

echo "bench: building the load generator and the CPU benchmark (release)" >&2
cargo build --release -q -p switchboard-cli
switchboard="$root/target/release/switchboard"

# Development secrets only: both workers and the load generator read these.
vars="$run_dir/bench.vars"
grep -E '^[A-Z_]+=' .dev.vars.example > "$vars"

# Switchboard: the release build, as `make dev` serves it, without the build step.
mkdir -p "$run_dir/switchboard"
awk -v main="$root/build/entry.mjs" -v assets="$root/public" '
  /^\[/ { table = $0 }
  table == "[build]" { next }
  /^main = / { print "main = \"" main "\""; next }
  table == "[assets]" && /^directory = / { print "directory = \"" assets "\""; next }
  { print }
' wrangler.toml > "$run_dir/switchboard/wrangler.toml"
cp "$vars" "$run_dir/switchboard/.dev.vars"
# Each wrangler gets its own inspector port: two on the default 9229 fail to start.
switchboard_port=$(free_port)
start switchboard node_modules/.bin/wrangler dev --config "$run_dir/switchboard/wrangler.toml" \
  --ip 127.0.0.1 --port "$switchboard_port" --persist-to "$state_dir/switchboard" \
  --inspector-port "$(free_port)"
switchboard_group=$last_group
peer_port=$(free_port)
start peer sh bench/peer-ts/serve.sh "$peer_port" "$state_dir/peer" \
  --inspector-port "$(free_port)"
peer_group=$last_group
wait_ready "http://127.0.0.1:$switchboard_port/healthz" switchboard
wait_ready "http://127.0.0.1:$peer_port/healthz" peer

# provider_flags PROVIDER…: `--provider P` for each.
provider_flags() {
  for provider in "$@"; do
    printf ' --provider %s' "$provider"
  done
}

# warm_up TARGET_URL PROVIDER…: BENCH_WARMUP_SECONDS of the same load, not measured.
warm_up() {
  target=$1
  shift
  # shellcheck disable=SC2046 # one flag per provider
  "$switchboard" load --target "$target" $(provider_flags "$@") --connections "$connections" \
    --duration "$warmup" --dev-vars "$vars" > /dev/null
}

# load NAME TARGET_URL GROUP PROVIDER…: one measured run into $results/NAME.json, and the CPU
# its server's process group used meanwhile into NAME.cpu.
load() {
  name=$1
  target=$2
  group=$3
  shift 3
  flags=$(provider_flags "$@")
  before=$(cpu_ticks "$group")
  # shellcheck disable=SC2086 # one flag per provider
  "$switchboard" load --target "$target" $flags --connections "$connections" \
    --duration "$seconds" --dev-vars "$vars" > "$results/$name.json"
  echo "$before $(cpu_ticks "$group") $(getconf CLK_TCK)" > "$results/$name.cpu"
  echo "bench: $name: $(node -e 'const r = require(process.argv[1]); console.log(`${r.requests} requests, ${r.rps} req/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, ${r.errors} errors`)' "$results/$name.json")" >&2
}

switchboard_url="http://127.0.0.1:$switchboard_port"
peer_url="http://127.0.0.1:$peer_port"

# compare SCENARIO PROVIDER…: both workers warmed up, then BENCH_ROUNDS measured runs of each,
# alternating which goes first (Switchboard, peer, peer, Switchboard, …), so that a drift of the
# machine during the scenario weighs on both alike. Runs of one build differ by up to ±10 % on
# a shared VM; report.mjs adds up the rounds and keeps each round's ratio.
compare() {
  scenario=$1
  shift
  warm_up "$switchboard_url" "$@"
  warm_up "$peer_url" "$@"
  round=1
  while [ "$round" -le "$rounds" ]; do
    if [ $((round % 2)) -eq 1 ]; then order="switchboard peer_ts"; else order="peer_ts switchboard"; fi
    for worker in $order; do
      if [ "$worker" = switchboard ]; then
        load "$scenario.switchboard.$round" "$switchboard_url" "$switchboard_group" "$@"
      else
        load "$scenario.peer_ts.$round" "$peer_url" "$peer_group" "$@"
      fi
    done
    round=$((round + 1))
  done
}

# measure_switchboard SCENARIO PROVIDER…: a scenario only Switchboard implements.
measure_switchboard() {
  scenario=$1
  shift
  warm_up "$switchboard_url" "$@"
  load "$scenario.switchboard" "$switchboard_url" "$switchboard_group" "$@"
}

# The peer implements Telnyx and Twilio: those scenarios run on both.
compare telnyx telnyx
compare twilio twilio
compare telnyx+twilio telnyx twilio
# No provider named: `switchboard load` sends every provider's webhooks, in registry order.
measure_switchboard mix
for provider in vonage vonage-business bird messagebird plivo; do
  measure_switchboard "$provider" "$provider"
done

# live SOCKETS ROUND: bench/live.mjs, one call's acknowledgements with SOCKETS sockets on it.
live() {
  workerd_pids=$(for pid in $(pgrep -g "$switchboard_group"); do
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = workerd ]; then echo "$pid"; fi
  done)
  node bench/live.mjs --target "$switchboard_url" --dev-vars "$vars" --sockets "$1" \
    --events "$live_events" --workerd-pids "$(echo $workerd_pids)" > "$results/live.sockets-$1.$2.json"
  echo "bench: live, $1 sockets, round $2: $(node -e 'const r = require(process.argv[1]); const l = r.latencies_ms.sort((a, b) => a - b); const at = (p) => l[Math.ceil(p * l.length) - 1]; console.log(`${l.length} webhooks, ack p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, ${r.errors} errors, ${r.frames_received} of ${r.frames_expected} frames`)' "$results/live.sockets-$1.$2.json")" >&2
}

# Issue 14: sequential webhooks, each a new event of one call, with 0 and 100 sockets watching
# it; the socket counts alternate which goes first, round by round.
round=1
while [ "$round" -le "$live_rounds" ]; do
  if [ $((round % 2)) -eq 1 ]; then order="0 100"; else order="100 0"; fi
  for sockets in $order; do
    live "$sockets" "$round"
  done
  round=$((round + 1))
done
cleanup
groups=""

# Issue 15: delivery to one endpoint against none. bench/delivery.mjs starts its own copies of
# the release worker (and stops them), a receiver for the deliveries, and a metered pass; its
# state goes to a fresh directory in RAM unless BENCH_STATE_DIR is set.
echo "bench: delivery, no endpoint and one" >&2
if [ -n "${BENCH_STATE_DIR:-}" ]; then
  set -- --state-dir "$BENCH_STATE_DIR/delivery-$$"
else
  set --
fi
node bench/delivery.mjs --dev-vars "$vars" --seconds "$seconds" --connections "$connections" \
  --warmup-seconds "$warmup" --rounds "$delivery_rounds" --log-dir "$run_dir/delivery" "$@" \
  > "$results/delivery.json"
if [ -n "${BENCH_STATE_DIR:-}" ]; then
  rm -rf "$BENCH_STATE_DIR/delivery-$$"
fi

echo "bench: CPU per webhook (wasm in Node vs native)" >&2
sh bench/cpu/run.sh > "$results/cpu.json"

echo "bench: bundle (wrangler deploy --dry-run)" >&2
SWITCHBOARD_PREBUILT=1 node_modules/.bin/wrangler deploy --dry-run --outdir "$run_dir/deploy" > "$run_dir/deploy.log" 2>&1
node bench/report.mjs "$results" "$run_dir/deploy" "$connections" "$seconds" > bench/results/latest.json.new
mv bench/results/latest.json.new bench/results/latest.json
node bench/report.mjs --table bench/results/latest.json
echo "bench: wrote bench/results/latest.json (logs in $run_dir)" >&2
