# smsfw developer targets. `make help` lists them.
GO      ?= go
BIN     ?= bin/smsfw
PKGS    ?= ./...
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help build test test-race fuzz bench bench-micro bench-store bench-search lint generate generate-check demo clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build bin/smsfw
	$(GO) build -o $(BIN) ./cmd/smsfw

test: ## run all tests
	$(GO) test $(PKGS)

test-race: ## run all tests with the race detector (what CI runs)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

fuzz: ## run every fuzz target for FUZZTIME each (default 10s)
	./scripts/fuzz-all.sh $${FUZZTIME:-10s}

# Every package with hot-path benchmarks: parsing (pdu, smstext), the relay
# (proxy), facts and rules (filter/pipeline: full inspection, rules included;
# rules/ has no benchmarks of its own) and their building blocks.
BENCH_PKGS ?= ./smpp/pdu/ ./smpp/text/ ./proxy/ ./filter/pipeline/ ./filter/textscan/ ./filter/numbers/ ./filter/counters/

bench-micro: ## hot-path micro-benchmarks, benchstat-comparable
	$(GO) test -run '^$$' -bench . -benchmem -count=6 $(BENCH_PKGS)

# The event store: sustained writes through the batching writer (SQLite, and
# PostgreSQL when SMSFW_TEST_POSTGRES is set), each batch size through the
# fast insert path and the careful one in the same run (their ratio is the
# comparable figure on a shared machine).
bench-store: ## event store writer, events/s and CPU per event, fast vs careful insert path
	$(GO) test -run '^$$' -bench Writer -benchtime 100000x ./store/

# Searches on 1M events; the fixture is built once (1-3 minutes) and kept in
# $$SMSFW_BENCH_DB (default $$TMPDIR/smsfw-bench-1m-v2.db; a postgres:// DSN
# benchmarks PostgreSQL). Never part of `go test` without -bench.
bench-search: ## event store searches on 1M events (target <= 200 ms)
	$(GO) test -run '^$$' -bench Search1M -benchtime 20x -timeout 30m ./store/

bench: build bench-micro bench-store ## micro-benchmarks, the event writer, then throughput (4x100 and 64x10), added p99 at half rate, RSS alone and the pinned measurement (each target alone on a core) vs a plain TCP relay, with issue 16's targets
	$(BIN) bench --sessions 4 --window 100 --scale 64x10 --duration 5s --rounds 3 --json bench/results/latest.json

lint: ## go vet and staticcheck
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

generate: ## regenerate generated code: the eBPF object and its Go bindings (bpf2go: clang, llvm-strip, libbpf-dev)
	$(GO) generate $(PKGS)

generate-check: ## regenerate, then fail if the committed generated files differ
	$(GO) generate ./bpf/
	git diff --exit-code -- 'bpf/*_bpfel.*' 'bpf/*_bpfeb.*'

demo: build ## simulator + proxy + traffic with live counts
	$(BIN) demo

clean:
	rm -rf bin
