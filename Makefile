# The two commands: `make run` (set up, build, run the quickstart) and `make test`.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
PYTHON := .venv/bin/python
LAMINAR_CONNECT := $(CURDIR)/$(BUILD_DIR)/bin/laminar-connect
export AVRO_TOOL := $(CURDIR)/$(BUILD_DIR)/src/laminar/serde/avro/avro_tool
JOBS ?= $(shell nproc)
# Compile results are shared between clones of the project on one machine.
export CCACHE_BASEDIR := $(CURDIR)
# -g puts the build directory into the hash unless told not to; clones then never share.
export CCACHE_NOHASHDIR := 1
BENCH_MB ?= 256

.PHONY: run test bootstrap build unit e2e interop bench fuzz clean format

bootstrap:
	@bash scripts/bootstrap

build: bootstrap
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET) -j $(JOBS)

run: build
	@bash scripts/quickstart "$(LAMINAR_CONNECT)"

# C++ unit and hermetic tests under ctest, then the Python suites (crash tests and the
# reference-reader interop checks) under pytest, whose summary closes the output.
test: build
	@cd $(BUILD_DIR) && ctest -LE 'e2e|interop' -j $(JOBS) --output-on-failure
	@LAMINAR_CONNECT=$(LAMINAR_CONNECT) $(PYTHON) -m pytest -q tests/e2e tests/interop

unit: build
	@cd $(BUILD_DIR) && ctest -L 'unit|hermetic' -j $(JOBS) --output-on-failure

e2e: build
	@LAMINAR_CONNECT=$(LAMINAR_CONNECT) $(PYTHON) -m pytest -q tests/e2e

interop: build
	@LAMINAR_CONNECT=$(LAMINAR_CONNECT) $(PYTHON) -m pytest -q tests/interop

# Speed is measured here, never in tests: each benchmark runs its peer on the same data
# in the same run and prints the ratio.
bench: build
	@$(BUILD_DIR)/bench/codec_bench $(BENCH_MB)
	@$(PYTHON) bench/avro_bench.py $(BUILD_DIR)/src/laminar/serde/avro/avro_tool
	@$(PYTHON) bench/delta_bench.py $(BUILD_DIR)/bench/delta_bench
	@$(PYTHON) bench/kafka_bench.py $(BUILD_DIR)/bench/kafka_bench $(KAFKA_BENCH_ROWS)

# Each decoder fuzzer for FUZZ_SECONDS (default 600) from the seed corpora in fuzz/corpus.
fuzz: bootstrap
	@bash scripts/fuzz

format:
	@git ls-files '*.h' '*.cc' | xargs clang-format -i

clean:
	rm -rf build
