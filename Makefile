# Two commands for a new user: `make run` (the chain with a demo) and `make test`.
# Both create the virtual environment and install what they need on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TOOLS  := .tools
BUF    := $(TOOLS)/node_modules/.bin/buf
ASYNCAPI := $(TOOLS)/node_modules/.bin/asyncapi
CASES  ?= 50
SECONDS_PER_DAY ?= 0.4
PYTEST_ARGS ?=

.PHONY: setup run test bench bench-surge lint proto asyncapi buf-lint tools clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The whole chain on the embedded broker, a demo batch of arrivals, a summary.
run: $(STAMP)
	$(BIN)/migratieketen run --cases $(CASES) --seconds-per-day $(SECONDS_PER_DAY)

# Unit, contract, component and end-to-end tests (real broker, real processes).
test: $(STAMP) tools
	$(BIN)/pytest $(PYTEST_ARGS)

# Benchmarks: print numbers, assert nothing. Throughput and CPU per case of the whole
# chain against a bare FastStream relay, then the 1 -> 2 instance speed-up of the
# Europaloket on PostgreSQL (skipped without a server). `bench-surge`: the Ter Apel week.
BENCH_CASES ?= 1000
bench: $(STAMP)
	$(BIN)/python bench/throughput.py --cases $(BENCH_CASES)
	$(BIN)/python bench/scale.py --requests 1500

bench-surge: $(STAMP)
	$(BIN)/python bench/surge.py --cases 1000 --days 7 --seconds-per-day 4

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy services tests e2e bench

# Regenerate the Python code (and type stubs) from contracts/*.proto.
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I contracts \
		--plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy --mypy_opt=quiet \
		--python_out=contracts --mypy_out=contracts contracts/migratieketen/v1/*.proto

# Regenerate contracts/asyncapi.json from topics.toml and the .proto files.
asyncapi: $(STAMP)
	$(BIN)/migratieketen asyncapi --output contracts/asyncapi.json

# buf (from the npm registry) for `buf lint` and `buf breaking`, and the AsyncAPI CLI
# that validates contracts/asyncapi.json; skipped without npm.
tools: $(BUF) $(ASYNCAPI)

$(BUF):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --prefix $(TOOLS) @bufbuild/buf@1 ; \
	else echo "npm not found: buf lint tests will be skipped"; fi

$(ASYNCAPI):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --prefix $(TOOLS) @asyncapi/cli@6 ; \
	else echo "npm not found: the AsyncAPI validation test will be skipped"; fi

buf-lint: tools
	cd contracts && ../$(BUF) lint

clean:
	rm -rf $(VENV) $(TOOLS) .data .pytest_cache .mypy_cache .ruff_cache
