# The README's two commands: `make run` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCENARIO ?= scenarios/default.yaml

.PHONY: run test test-slow lint bench clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/clets run $(SCENARIO) --replications 4 --workers 2

# the report and case-viewer tests drive headless Chromium (Debian's package). Installed here
# when missing and we are root; otherwise those tests skip and say how to install it
# (under CI=true a missing browser fails them).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
	      || echo "could not install chromium: the browser tests will skip"; \
	  else \
	    echo "chromium not found and not root: the browser tests will skip (install it with: sudo apt-get install chromium)"; \
	  fi

test: $(VENV)/.installed-test browser
	$(BIN)/python -m pytest

test-slow: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m slow

lint: $(VENV)/.installed-test
	$(BIN)/ruff check sim topology tests benchmarks

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/network_overhead.py
	$(BIN)/python benchmarks/statewide.py
	$(BIN)/python benchmarks/journal_throughput.py
	$(BIN)/python benchmarks/oversight_year.py
	$(BIN)/python benchmarks/sweep_scaling.py

clean:
	rm -rf $(VENV) build *.egg-info
