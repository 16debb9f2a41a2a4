#!/bin/sh
# CPU per webhook, wasm in V8 (Node) against native: builds both in release, runs both and prints
# {"<webhook>": {"wasm": µs, "native": µs, "ratio": wasm/native}, …} (CPU µs per webhook) on
# stdout, progress on stderr. Arguments (webhook names) limit the run to those. See README.md.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

wasm=target/wasm32-unknown-unknown/release/switchboard_bench_cpu.wasm
# The native build uses the portable field arithmetic that wasm32 gets (curve25519-dalek picks
# `serial` with 32-bit limbs there), so both run the same code. Its own target dir keeps these
# flags from invalidating the usual build.
native_target=target/bench-cpu-native
native_flags='--cfg curve25519_dalek_backend="serial" --cfg curve25519_dalek_bits="32"'

echo "building the wasm module and the native binary (release)…" >&2
cargo build --quiet --release --target wasm32-unknown-unknown -p switchboard-bench-cpu --lib
RUSTFLAGS="$native_flags" CARGO_TARGET_DIR="$native_target" \
  cargo build --quiet --release -p switchboard-bench-cpu --bin cpu-native

# The deployed worker is also run through `wasm-opt -O` by worker-build (same features).
wasm_opt=node_modules/.bin/wasm-opt
if [ -x "$wasm_opt" ]; then
  optimized=target/wasm32-unknown-unknown/release/switchboard_bench_cpu.opt.wasm
  "$wasm_opt" "$wasm" -o "$optimized" -O --debuginfo \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling
  wasm=$optimized
  echo "wasm: rustc output run through wasm-opt -O, as worker-build does" >&2
else
  echo "wasm: rustc output WITHOUT the wasm-opt pass the deployed worker gets" \
    "(scripts/bootstrap.sh installs wasm-opt)" >&2
fi

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
node bench/cpu/run.mjs "$wasm" "$@" >"$results/wasm.json"
"$native_target/release/cpu-native" "$@" >"$results/native.json"

node --input-type=module - "$results/wasm.json" "$results/native.json" <<'EOF'
import { readFileSync } from "node:fs";
const [wasm, native] = process.argv.slice(2).map((path) => JSON.parse(readFileSync(path, "utf8")));
const round = (value) => Math.round(value * 100) / 100;
const combined = Object.fromEntries(
  Object.keys(wasm).map((name) => [
    name,
    { wasm: wasm[name], native: native[name], ratio: round(wasm[name] / native[name]) },
  ]),
);
console.log(JSON.stringify(combined));
EOF
