# Kexue Book. `make book`: set up and build the site; `make test`: set up and run every test.
# Each target creates the virtual environment first when it is missing or out of date.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.kexue-installed
export KEXUE_SCALE ?= ci
export PYTHONHASHSEED = 0
export MPLBACKEND = Agg

.PHONY: setup book test test-unit test-notebooks test-site test-browser sync record record-scripts benchmarks clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
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

# pytest exits with 5 when it collects nothing: not a failure of ours.
test-unit: setup
	$(BIN)/python -m pytest tests -q || [ $$? -eq 5 ]

test-notebooks: setup
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env -q --durations=0 book/ || [ $$? -eq 5 ]

test-site: book

# ---- full-scale records --------------------------------------------------------------
# make record CHAPTER=01-angle-distribution   (runs the chapter at KEXUE_SCALE=full and
# writes results/01-angle-distribution.json; meant for a GPU machine, see README)
record: setup
	@test -n "$(CHAPTER)" || (echo "usage: make record CHAPTER=NN-slug" && exit 2)
	KEXUE_SCALE=full $(BIN)/python tools/record.py $(CHAPTER)

# Convert every chapter to a plain script under _build/record (for machines without Jupyter).
record-scripts: setup
	$(BIN)/python tools/record.py --convert-only all

benchmarks: setup
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf _build
