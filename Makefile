# Kexue Book. `make book`: set up and build the site; `make test`: set up and run every test.
# Each target creates the virtual environment first when it is missing or out of date.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.kexue-installed
export KEXUE_SCALE ?= ci
export PYTHONHASHSEED = 0

.PHONY: setup book test test-unit test-notebooks test-site browser-deps sync record record-scripts benchmarks clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

# ---- the site ------------------------------------------------------------------------
book: setup
	$(BIN)/jupyter-book clean --all .
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter-book build -W --keep-going --all .
	@echo "site: _build/html/index.html"

# ---- tests ---------------------------------------------------------------------------
test: setup
	$(MAKE) test-unit test-notebooks test-site
	@echo "all tests passed"

# pytest exits with 5 when it collects nothing: not a failure of ours.
test-unit: setup
	$(BIN)/python -m pytest tests -q --ignore=tests/browser || [ $$? -eq 5 ]

test-notebooks: setup
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env -q --durations=0 book/ || [ $$? -eq 5 ]

# The strict build, then the built site in headless Chromium with no network.
test-site: book browser-deps
	$(BIN)/python -m pytest tests/browser -q

# Debian's chromium for the browser test (root: apt-get; otherwise sudo if available).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

# Refresh the .ipynb twins of the chapters (for Colab); the unit tests check they are in sync.
sync: setup
	$(BIN)/python tools/sync_notebooks.py

# ---- full-scale records --------------------------------------------------------------
# make record CHAPTER=01-angle-distribution   (runs the chapter at KEXUE_SCALE=full and
# writes results/01-angle-distribution.json; meant for a GPU machine, see README)
record: setup
	@test -n "$(CHAPTER)" || (echo "usage: make record CHAPTER=NN-slug" && exit 2)
	KEXUE_SCALE=full $(BIN)/python tools/record.py $(CHAPTER)

# Convert every chapter to a plain script under _build/record (for machines without Jupyter).
record-scripts: setup
	$(BIN)/python tools/record.py --convert-only all

# Every benchmark at its default sizes; `make benchmarks | tee benchmarks/results-cpu.txt`
# records a run (benchmarks/README.md summarises the committed one).
benchmarks: setup
	@$(BIN)/python benchmarks/_machine.py
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf _build
