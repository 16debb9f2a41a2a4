#!/bin/sh
# Builds the worker into build/ with the project-local tools (see scripts/bootstrap.sh).
# worker-build never looks on PATH and its GitHub downloads fail offline, so every helper tool
# is passed explicitly through its *_BIN variable.
set -eu
if [ "${SWITCHBOARD_PREBUILT:-}" = "1" ]; then
  exit 0
fi
root=$(cd "$(dirname "$0")/.." && pwd)
export WASM_BINDGEN_BIN="$root/.tools/bin/wasm-bindgen"
export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
cd "$root"
"$root/.tools/bin/worker-build" --release --no-opt

# worker-build's own wasm-opt step always keeps the names section (`--debuginfo`): about 190 KB
# raw and 54 KB gzipped, used only to name functions in stack traces (panic messages keep their
# file and line). So it is skipped above and run here without it: the same `-O`, and the same
# explicit feature set, which keeps binaryen from emitting encodings workerd does not run yet.
wasm="$root/build/index_bg.wasm"
"$root/node_modules/.bin/wasm-opt" "$wasm" -o "$wasm.opt" -O \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling
mv "$wasm.opt" "$wasm"
# The entry module wraps build/index.js (see scripts/worker-entry.mjs).
cp "$root/scripts/worker-entry.mjs" "$root/build/entry.mjs"
