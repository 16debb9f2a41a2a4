#!/bin/sh
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 10), one after the other:
#   scripts/fuzz.sh 10      # the bounded run of `make test`
#   scripts/fuzz.sh 60      # `make fuzz`
#   scripts/fuzz.sh 60 form canonical_json   # only these targets
#
# - installs cargo-fuzz into .tools/ if missing (built from crates.io, like bootstrap.sh does);
# - needs the nightly toolchain (`cargo +nightly`: sanitizer flags);
# - seeds fuzz/corpus/<target>/ from the fixtures of crates/core and crates/cli (generated, not
#   committed; what libFuzzer adds there is kept between runs);
# - memory is bounded: a run that holds more than RSS_LIMIT_MB, or makes one allocation larger
#   than MALLOC_LIMIT_MB, fails like a crash;
# - prints "<target>: executions: N" per target and exits non-zero if any target failed; the
#   failing input is in fuzz/artifacts/<target>/; replay it with
#   `PATH=$PWD/.tools/bin:$PATH cargo +nightly fuzz run --fuzz-dir fuzz -a <target> <file>`.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

SECONDS_PER_TARGET=${1:-10}
[ "$#" -gt 0 ] && shift
RSS_LIMIT_MB=${RSS_LIMIT_MB:-1024}
MALLOC_LIMIT_MB=${MALLOC_LIMIT_MB:-256}
MAX_LEN=${MAX_LEN:-65536}
CARGO_FUZZ_VERSION=0.13.2
# Every [[bin]] of fuzz/Cargo.toml, in its order: one per provider of the registry, then the rest.
ALL_TARGETS=$(awk '/^\[\[bin\]\]/ { bin = 1; next } bin && /^name = / { gsub(/"/, "", $3); print $3; bin = 0 }' fuzz/Cargo.toml)
TARGETS=${*:-$ALL_TARGETS}

case "$SECONDS_PER_TARGET" in
  '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

if ! .tools/bin/cargo-fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root .tools --force
fi
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz: the nightly toolchain is needed (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! command -v jq >/dev/null; then
  apt-get update -qq && apt-get install -y -qq jq >/dev/null \
    || { echo "fuzz: jq is needed to write the seeds" >&2; exit 1; }
fi
# `cargo fuzz` is cargo-fuzz found on PATH.
PATH="$root/.tools/bin:$PATH"
export PATH

# --- Seeds -------------------------------------------------------------------------------------
corpus=fuzz/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
for target in $ALL_TARGETS; do mkdir -p "$corpus/$target"; done

# A fixture vector (core) as a captured request; $p is the provider directory.
vector_to_request='
def form: to_entries | map("\(.key|@uri)=\(.value|tostring|@uri)") | join("&");
def text: if type == "string" then . elif . == null then "" else tojson end;
(.inputs // .) as $in
| (if $in.event then {event: $in.event} | tojson
   elif ($in.params | type) == "object" then $in.params | form
   else ($in.raw_body // $in.body // $in.payload) | text end) as $body
| (($in.headers // $in.header // {})
   + (if $in.authorization then {authorization: $in.authorization} else {} end)
   + (if $in.token and $p == "messagebird" then {"messagebird-signature-jwt": $in.token}
      elif $in.token then {authorization: ("Bearer " + $in.token)} else {} end)
   + (if ($body | startswith("{")) then {"content-type": "application/json"}
      elif ($in.params | type) == "object" then {"content-type": "application/x-www-form-urlencoded"}
      else {} end)) as $headers
| {method: ($in.method // "POST"),
   url: ($in.url // $in.request_url
         // ("https://switchboard.example.com/webhooks/" + $p
             + (if $in.query_string then "?" + $in.query_string else "" end))),
   headers: $headers,
   body: $body}'
# A captured request in the provider targets' input format (see fuzz/src/lib.rs).
request_to_input='"\(.method // "POST")\n\(.url // "")\n"
  + ((.headers // {}) | to_entries | map("\(.key): \(.value)\n") | join(""))
  + "\n" + (.body // "")'

# The provider targets are those with fixtures.
for dir in $ALL_TARGETS; do
  for file in crates/core/tests/fixtures/$dir/*.json; do
    [ -f "$file" ] || continue
    count=$(jq '(.vectors // .cases // []) | length' "$file")
    i=0
    while [ "$i" -lt "$count" ]; do
      jq --arg p "$dir" --argjson i "$i" "(.vectors // .cases)[\$i] | $vector_to_request" "$file" \
        > "$work/$dir--$(basename "$file" .json)-$i.json"
      i=$((i + 1))
    done
  done
done
for file in crates/cli/tests/fixtures/*.json; do
  name=$(basename "$file" .json)
  case "$name" in
    vonage-business-*) dir=vonage_business ;;
    *) dir=$(echo "$name" | cut -d- -f1) ;;
  esac
  cp "$file" "$work/$dir--cli-$name.json"
done

for request in "$work"/*.json; do
  name=$(basename "$request" .json)
  dir=${name%%--*}
  jq -j "$request_to_input" "$request" > "$corpus/$dir/seed-$name"
  cp "$request" "$corpus/captured_request/seed-$name.json"
  jq -j '.url | split("#")[0] | (split("?")[1:] | join("?"))' "$request" > "$corpus/form/seed-query-$name"
  jq -j '.body // ""' "$request" > "$work/body"
  case $(head -c 1 "$work/body") in
    '{' | '[') cp "$work/body" "$corpus/canonical_json/seed-$name" ;;
    '') ;;
    *) cp "$work/body" "$corpus/form/seed-body-$name" ;;
  esac
done
for file in crates/core/tests/fixtures/vonage_business/*.json; do
  jq -c '.vectors[] | .inputs.event' "$file" | while read -r event; do
    printf '%s' "$event" > "$corpus/canonical_json/seed-event-$(printf '%s' "$event" | cksum | cut -d' ' -f1)"
  done
done

# --- Build once, then run each target ------------------------------------------------------------
cargo +nightly fuzz build --fuzz-dir fuzz --debug-assertions

failed=""
for target in $TARGETS; do
  log="$work/$target.log"
  mkdir -p "fuzz/artifacts/$target"
  status=0
  cargo +nightly fuzz run --fuzz-dir fuzz --debug-assertions "$target" "$corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_LIMIT_MB" \
    -malloc_limit_mb="$MALLOC_LIMIT_MB" -max_len="$MAX_LEN" -timeout=10 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  [ -n "$executions" ] ||
    executions=$(sed -n 's/^#\([0-9][0-9]*\).*\(DONE\|pulse\|NEW\|REDUCE\).*/\1/p' "$log" | tail -n 1)
  if [ "$status" -eq 0 ]; then
    echo "$target: executions: ${executions:-?}"
  else
    echo "$target: FAILED (exit $status) after ${executions:-?} executions; last lines:"
    tail -n 40 "$log" | sed 's/^/    /'
    failed="$failed $target"
  fi
done

if [ -n "$failed" ]; then
  echo "fuzz: failed:$failed (inputs in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
