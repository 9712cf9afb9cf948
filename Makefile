# Clockwork — one entry point for building, installing, testing and demoing.
#   make test    everything from nothing: Debian packages, V8, npm packages, build,
#                install into the local PostgreSQL 15, then all tests on a throwaway cluster
#   make demo    the same set-up, then a live scheduler with sample jobs
# Re-running is fast: each step skips what is already there.

PG_CONFIG ?= pg_config
V8_PREFIX := $(CURDIR)/.deps/v8
RUNTIME   := extension/runtime
NPX       := npx --no-install

export PG_CONFIG V8_PREFIX

.PHONY: all deps system v8 npm build build-runtime build-extension install typecheck \
        test test-core test-runtime demo bench bench-core bench-runtime bench-extension \
        bench-supervisor clean

all: build

# --- dependencies -----------------------------------------------------------------
deps: system v8 npm

system:
	@build/setup-system.sh

v8: $(V8_PREFIX)/.complete
$(V8_PREFIX)/.complete:
	build/fetch-v8.sh $(V8_PREFIX)

npm: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# --- build and install ------------------------------------------------------------
build: build-runtime build-extension

build-runtime: system v8
	$(MAKE) -C $(RUNTIME) V8_PREFIX=$(V8_PREFIX)

build-extension: npm
	@if [ -f build/bundle.ts ]; then $(NPX) tsx build/bundle.ts; fi

install: build
	$(MAKE) -C $(RUNTIME) V8_PREFIX=$(V8_PREFIX) install
	@if [ -d dist/extension ]; then \
	  install -m 644 dist/extension/* "$$($(PG_CONFIG) --sharedir)/extension/"; \
	fi

typecheck: npm
	$(NPX) tsc -p tsconfig.json
	$(NPX) tsc -p extension/src/core/tsconfig.json

# --- tests ------------------------------------------------------------------------
test: deps install typecheck
	$(NPX) tsx test/run.ts

test-core: npm
	$(NPX) tsx test/run.ts test/core

test-runtime: deps install
	$(NPX) tsx test/run.ts test/runtime

# --- the live demo ----------------------------------------------------------------
demo: deps install
	$(NPX) tsx supervisor/demo.ts

# --- benchmarks (never part of `make test`) ---------------------------------------
bench-runtime: deps install
	$(NPX) tsx test/bench/runtime.ts

bench-core: npm
	$(NPX) tsx test/bench/core.ts

bench-extension: deps install
	$(NPX) tsx test/bench/extension.ts

# Lag and idle cost of one supervisor; run_now throughput against graphile-worker; lag
# against pg_cron on the every-minute load (several minutes: it waits for minute slots).
bench-supervisor: deps install
	$(NPX) tsx test/bench/supervisor.ts
	$(NPX) tsx test/bench/throughput.ts
	$(NPX) tsx test/bench/lag.ts

bench: bench-runtime bench-core bench-extension bench-supervisor

clean:
	$(MAKE) -C $(RUNTIME) clean V8_PREFIX=$(V8_PREFIX)
	rm -rf dist .tmp
