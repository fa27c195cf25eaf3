# Both entry points bootstrap their own virtual environment from pyproject.toml.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= out/demo
# One test worker per core; tests sharing a whole-run fixture stay on one worker.
PARALLEL ?= -n auto --dist loadgroup

.PHONY: demo test test-slow lint format clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dataflow,train,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/polymix demo --output $(DEMO_OUT)

CHROMIUM := $(shell command -v chromium 2>/dev/null)

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q $(PARALLEL)

# The report test renders the HTML in headless Chromium (Debian's package).
chromium:
ifeq ($(CHROMIUM),)
	(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	  (sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null)
endif

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(PARALLEL)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) out build *.egg-info
