# Two commands for a new user: `make run` (the chain with a demo) and `make test`.
# Both create the virtual environment and install what they need on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Pinned with hashes by `make lock`: the runtime set (the image), the testing extra (the
# example team project) and the dev set (make setup, CI).
LOCK     := requirements.lock
TESTING_LOCK := requirements-testing.lock
DEV_LOCK := requirements-dev.lock
UV_VERSION := 0.13.9
TOOLS  := .tools
BUF    := $(TOOLS)/node_modules/.bin/buf
ASYNCAPI := $(TOOLS)/node_modules/.bin/asyncapi
NODE_PARTNER := contracts/examples/node/node_modules/kafkajs
CASES  ?= 50
SECONDS_PER_DAY ?= 0.4
PYTEST_ARGS ?=

.PHONY: setup run test bench bench-surge lint lock proto asyncapi buf-lint tools browser clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# Re-pin every dependency (with hashes) after changing pyproject.toml.
lock:
	test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command 'make lock' --quiet -o $(LOCK)
	$(BIN)/uv pip compile pyproject.toml --extra testing --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command 'make lock' --quiet -o $(TESTING_LOCK)
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command 'make lock' --quiet -o $(DEV_LOCK)

# The whole chain on the embedded broker, a demo batch of arrivals, a summary.
run: $(STAMP)
	$(BIN)/migratieketen run --cases $(CASES) --seconds-per-day $(SECONDS_PER_DAY)

# Unit, contract, component and end-to-end tests (real broker, real processes).
test: $(STAMP) tools browser
	$(BIN)/pytest $(PYTEST_ARGS)

# Benchmarks: print numbers, assert nothing. Throughput and CPU per case of the whole
# chain against a bare FastStream relay, then the 1 -> 2 instance speed-up of the
# Europaloket on PostgreSQL (skipped without a server). `bench-surge`: the Ter Apel week.
BENCH_CASES ?= 3000
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

# buf (from the npm registry) for `buf lint` and `buf breaking`, the AsyncAPI CLI
# that validates contracts/asyncapi.json, and the Node partner example's packages
# (kafkajs, protobufjs, as its package-lock.json says); skipped without npm.
tools: $(BUF) $(ASYNCAPI) $(NODE_PARTNER)

$(NODE_PARTNER): contracts/examples/node/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --silent --no-audit --no-fund --prefix contracts/examples/node ; \
	else echo "npm not found: the Node partner test will be skipped"; fi

$(BUF):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --prefix $(TOOLS) @bufbuild/buf@1 ; \
	else echo "npm not found: buf lint tests will be skipped"; fi

$(ASYNCAPI):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --prefix $(TOOLS) @asyncapi/cli@6 ; \
	else echo "npm not found: the AsyncAPI validation test will be skipped"; fi

# Debian's chromium for the console's browser test (Playwright drives it); installed once.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium not installed: the console browser test will be skipped"

buf-lint: tools
	cd contracts && ../$(BUF) lint

clean:
	rm -rf $(VENV) $(TOOLS) .data .pytest_cache .mypy_cache .ruff_cache
