# Clockwork — one entry point for building, installing, testing and demoing.
#   make test       everything from nothing: Debian packages, V8, npm packages, build,
#                   install into the local PostgreSQL 15, then all tests on a throwaway
#                   cluster, with LANGUAGE plv8 from clockwork_v8
#   make test-plv8  the same set-up plus the real PL/v8 3.2.2 (built from ../shared), then
#                   the runtime, extension, end-to-end and CLI suites on it
#   make demo       the same set-up, then a live scheduler with sample jobs
# Re-running is fast: each step skips what is already there.

PG_CONFIG ?= pg_config
V8_PREFIX := $(CURDIR)/.deps/v8
RUNTIME   := extension/runtime
NPX       := npx --no-install
# The project's shared folder (third-party sources and tools) sits beside the repository;
# for a git worktree, beside its main checkout.
SHARED    ?= $(abspath $(or $(shell git rev-parse --path-format=absolute --git-common-dir 2>/dev/null),$(CURDIR)/.git)/../../shared)
PLV8_SRC  := $(SHARED)/third_party/plv8-3.2.2

export PG_CONFIG V8_PREFIX

.PHONY: all deps system v8 promtool npm build build-runtime build-extension build-supervisor build-console install package typecheck \
        plv8 test test-plv8 test-core test-runtime chaos demo bench bench-core bench-runtime bench-extension \
        bench-supervisor bench-console clean

all: build

# --- dependencies -----------------------------------------------------------------
deps: system v8 npm promtool

system:
	@build/setup-system.sh

v8: $(V8_PREFIX)/.complete
$(V8_PREFIX)/.complete:
	build/fetch-v8.sh $(V8_PREFIX)

# Debian's promtool (package prometheus, unpacked, not installed): checks the alerting rules.
promtool: .deps/prometheus/.complete
.deps/prometheus/.complete:
	build/fetch-promtool.sh $(CURDIR)/.deps/prometheus

npm: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# --- build and install ------------------------------------------------------------
build: build-runtime build-extension build-supervisor build-console

build-runtime: system v8
	$(MAKE) -C $(RUNTIME) V8_PREFIX=$(V8_PREFIX)

build-extension: npm
	@if [ -f build/bundle.ts ]; then $(NPX) tsx build/bundle.ts; fi

# The supervisor and CLI compiled to JavaScript (dist/supervisor/): what `clockwork` runs.
build-supervisor: npm
	$(NPX) tsx build/compile-supervisor.ts

# The web console's front end (dist/console), served by `clockwork console`.
build-console: npm
	$(NPX) tsx build/console.ts

install: build
	$(MAKE) -C $(RUNTIME) V8_PREFIX=$(V8_PREFIX) install
	@if [ -d dist/extension ]; then \
	  install -m 644 dist/extension/* "$$($(PG_CONFIG) --sharedir)/extension/"; \
	fi

# The real PL/v8 3.2.2, compiled against .deps/v8 and installed into $(PG_CONFIG)'s
# PostgreSQL beside clockwork_v8 (a database uses one or the other). About 10 s.
plv8: system v8
	@test -x $(SHARED)/tools/plv8-build.sh -a -d $(PLV8_SRC) || \
	  { echo "no PL/v8 source at $(PLV8_SRC): set SHARED=<the shared folder>" >&2; exit 1; }
	BUILD_DIR=$(CURDIR)/.tmp/plv8-build $(SHARED)/tools/plv8-build.sh $(PLV8_SRC) $(V8_PREFIX)

# Release artefacts in dist/: the npm package (compiled CLI) and the Debian packages.
package: build
	npm pack --ignore-scripts --pack-destination dist
	build/package-deb.sh dist/deb

typecheck: npm
	$(NPX) tsc -p tsconfig.json
	$(NPX) tsc -p extension/src/core/tsconfig.json
	$(NPX) tsc -p supervisor/src/console/web/tsconfig.json

# --- tests ------------------------------------------------------------------------
test: deps install typecheck
	$(NPX) tsx test/run.ts

# The suites that run on every runtime, on the real PL/v8 (test/support/runtime.ts says
# which language extension; tests only clockwork_v8 can pass are skipped with the reason).
test-plv8: deps install plv8
	CLOCKWORK_TEST_RUNTIME=plv8 $(NPX) tsx test/run.ts runtime extension e2e cli

# The chaos suite (docs/faults.md): supervisors killed and restarted, PostgreSQL crash and
# fast restarts, every slot accounted for. Bounded (about 5 minutes); not part of make test.
chaos: deps install
	$(NPX) tsx test/chaos/chaos.ts $(CHAOS_ARGS)

test-core: npm
	$(NPX) tsx test/run.ts test/core

test-runtime: deps install
	$(NPX) tsx test/run.ts test/runtime

# --- the live demo ----------------------------------------------------------------
demo: deps install
	$(NPX) tsx supervisor/demo.ts

# --- benchmarks (never part of `make test`) ---------------------------------------
bench-runtime: deps install plv8
	$(NPX) tsx test/bench/runtime.ts

bench-core: npm
	$(NPX) tsx test/bench/core.ts

bench-extension: deps install
	$(NPX) tsx test/bench/extension.ts
	$(NPX) tsx test/bench/api-front.ts

# Lag and idle cost of one supervisor; run_now throughput against graphile-worker; lag
# against pg_cron on the every-minute load (several minutes: it waits for minute slots).
bench-supervisor: deps install
	$(NPX) tsx test/bench/supervisor.ts
	$(NPX) tsx test/bench/throughput.ts
	$(NPX) tsx test/bench/lag.ts

# Page loads of the web console with 10 000 jobs and a million runs (a few minutes).
bench-console: deps install
	$(NPX) tsx test/bench/console.ts

bench: bench-runtime bench-core bench-extension bench-supervisor bench-console

clean:
	$(MAKE) -C $(RUNTIME) clean V8_PREFIX=$(V8_PREFIX)
	rm -rf dist .tmp
