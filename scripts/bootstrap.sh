#!/bin/sh
# Installs everything the build and tests need into project-local folders, once:
#   - the wasm32-unknown-unknown Rust target (rustup);
#   - wasm-bindgen-cli at exactly the version Cargo.lock pins, and worker-build, into .tools/
#     (built from crates.io: their GitHub binary downloads are unreachable here);
#   - npm packages (wrangler, workerd, binaryen's wasm-opt, esbuild, playwright-core) into
#     node_modules/;
#   - Debian's chromium (apt-get, as root or through sudo), for the browser tests.
# Re-running it is cheap: each step is skipped when its result is already there.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

WORKER_BUILD_VERSION=0.8.7
wasm_bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$wasm_bindgen_version" ]; then
  echo "bootstrap: cannot read the wasm-bindgen version from Cargo.lock" >&2
  exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

if ! .tools/bin/wasm-bindgen --version 2>/dev/null | grep -q " $wasm_bindgen_version\$"; then
  # Without --locked: the CLI's own lockfile pins a crate version the index no longer has.
  cargo install wasm-bindgen-cli --version "$wasm_bindgen_version" --root .tools --force
fi

# `worker-build --version` prints the bare version.
if ! .tools/bin/worker-build --version 2>/dev/null | grep -qx "$WORKER_BUILD_VERSION"; then
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --root .tools --force
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# Headless Chromium for the dashboard's browser tests (tests/e2e/dashboard.rs): Debian's
# package, which playwright-core (node_modules) drives; nothing downloads a browser. CHROMIUM
# names another build to use instead.
if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: no chromium and no apt-get: install Chromium and set CHROMIUM to its path" \
      "for the dashboard's tests" >&2
  elif [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "bootstrap: Debian's chromium is missing; install it as root: apt-get install chromium" >&2
    exit 1
  fi
fi
