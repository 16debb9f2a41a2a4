# Switchboard: `make dev` serves the worker locally, `make test` runs every check.
# Both install what is missing into project-local folders first (scripts/bootstrap.sh).

PORT ?= 8787
WRANGLER := node_modules/.bin/wrangler

# Keep wrangler offline and its files inside the project.
export CLOUDFLARE_CF_FETCH_ENABLED := false
export WRANGLER_SEND_METRICS := false
export XDG_CONFIG_HOME := $(CURDIR)/.config

.PHONY: setup build dev test lint unit fuzz-short fuzz e2e soak bench dry-run deploy clean

setup:
	@sh scripts/bootstrap.sh

build: setup
	sh scripts/build-worker.sh

.dev.vars:
	cp .dev.vars.example .dev.vars
	@echo "created .dev.vars from .dev.vars.example (development secrets)"

## Serves the worker on 127.0.0.1:$(PORT) with local KV/DO state in .wrangler/state;
## rebuilds when src/ or crates/core/src/ change.
dev: setup .dev.vars
	$(WRANGLER) dev --ip 127.0.0.1 --port $(PORT) --persist-to .wrangler/state

## Everything CI runs: lint, unit/property/vector/CLI tests, the release build, end-to-end
## tests against that build in workerd, and a deploy dry run.
test: setup lint unit fuzz-short build e2e dry-run

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p switchboard-worker --target wasm32-unknown-unknown -- -D warnings

unit:
	cargo test -p switchboard-core -p switchboard-cli -p switchboard-bench-cpu

## Every cargo-fuzz target in fuzz/ for 10 s (nightly toolchain; cargo-fuzz goes into .tools/).
fuzz-short:
	sh scripts/fuzz.sh 10

## The same, 60 s per target (about 11 minutes).
fuzz:
	sh scripts/fuzz.sh 60

## Needs `make build` first (the tests start wrangler with the build step skipped): the
## end-to-end tests, then a bounded load run with a SIGKILL and a secret rotation.
e2e:
	cargo build -p switchboard-cli
	cargo test -p switchboard-worker --test e2e
	cargo test -p switchboard-worker --test soak

## Load and faults with figures: 32 connections, 4 phases of 10 s, a SIGKILL and a secret
## rotation; prints requests, 2xx/4xx/5xx, events stored and lost, restarts survived, then
## 20,000 HTTP fuzz requests and the executions of every cargo-fuzz target (30 s each).
soak: setup build
	SWITCHBOARD_SOAK=full cargo test -p switchboard-worker --test soak -- --nocapture
	SWITCHBOARD_HTTP_FUZZ_REQUESTS=20000 cargo test -p switchboard-worker --test e2e -- --nocapture malformed
	sh scripts/fuzz.sh 30

## Switchboard beside the TypeScript peer (bench/peer-ts) under the same load, one call's
## acknowledgement latency with 0 and 100 live sockets (bench/live.mjs), webhooks with no
## delivery endpoint and with one (bench/delivery.mjs), CPU per webhook in wasm and native, and
## the bundle: bench/results/latest.json and a table (BENCHMARKS.md).
## Not a test: nothing here asserts a time. About 9 minutes warm on 2 cores.
bench: setup build
	sh scripts/bench.sh

dry-run:
	SWITCHBOARD_PREBUILT=1 $(WRANGLER) deploy --dry-run --outdir target/deploy-dry-run

deploy: build
	SWITCHBOARD_PREBUILT=1 $(WRANGLER) deploy

clean:
	rm -rf build target/e2e target/deploy-dry-run
