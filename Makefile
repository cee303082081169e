# RNN Music Lab. Every target sets the lab up on first use (.venv); `make help` lists them.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
BROWSER_STAMP := $(VENV)/.browser
ARGS   ?=
SOLUTION_NOTEBOOKS := $(sort $(wildcard solutions/*.ipynb))
# One Chinese solution under nbval too (tests/test_editions.py proves the others' code is the English code).
EDITION_NOTEBOOKS := $(wildcard solutions/zh/02_vectorization.ipynb)
# JupyterLab refuses to start as root without --allow-root (containers, Colab-like machines run as root).
LAB_ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
# Where chromium is installed, make test runs the browser test too (its set-up adds Playwright once).
BROWSER_READY := $(if $(shell command -v chromium || command -v chromium-browser),$(BROWSER_STAMP))

.PHONY: help setup run lab test lint test-fast test-slow test-gpu test-browser notebooks grade autograder bench bench-quick bench-grading clean

help:
	@echo "Students"
	@echo "  make setup       create .venv and install everything (every target does this on first use)"
	@echo "  make lab         open JupyterLab on notebooks/ (ARGS='--port 8899' etc. are passed on)"
	@echo "  make run         train, generate tunes, write runs/<name>/ (ARGS='--help' lists the flags)"
	@echo "Tests"
	@echo "  make test        lint, notebook build check, unit tests, solution notebooks under nbval (small settings),"
	@echo "                   and the browser test where chromium is installed"
	@echo "  make lint        ruff over labutils/, tests/, benchmarks/"
	@echo "  make test-fast   unit tests only"
	@echo "  make test-slow   the long tests (every tune through every backend; the Colab cell run for real)"
	@echo "  make test-gpu    GPU tests + the solution notebooks with full settings on a GPU"
	@echo "  make test-browser  notebook 07 run in JupyterLab in headless chromium (installs chromium as root)"
	@echo "Instructors and maintainers"
	@echo "  make notebooks   rebuild notebooks/ from solutions/"
	@echo "  make grade       grade submissions: make grade ARGS='submissions/ --out grades --jobs 2'"
	@echo "  make autograder  write autograder.zip for Gradescope (ARGS='--help' for its settings)"
	@echo "  make bench       benchmarks against the lab notes' recipe (benchmarks/results/)"
	@echo "  make bench-quick a one-minute smoke run of the benchmarks"
	@echo "  make bench-grading  notebooks graded per minute against the grader of a823da0 (ABBA), and the sandbox cost"
	@echo "  make clean       remove .venv and caches"

$(STAMP): requirements.txt pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	@touch $@

setup: $(STAMP)

# The browser test's own set-up: Debian's chromium and the `browser` extra (Playwright).
$(BROWSER_STAMP): $(STAMP) scripts/setup-browser.sh pyproject.toml
	bash scripts/setup-browser.sh
	@touch $@

run: $(STAMP)
	$(PY) -m labutils run $(ARGS)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $(LAB_ROOT_FLAG) $(ARGS)

# The solution notebooks run from a temporary copy, so nothing they write lands in the source tree.
test: $(STAMP) lint $(BROWSER_READY)
	$(PY) -m labutils build-notebooks --check
	@work=$$(mktemp -d) && cp $(SOLUTION_NOTEBOOKS) $$work/ && \
	for nb in $(EDITION_NOTEBOOKS); do cp $$nb $$work/zh_$$(basename $$nb); done && \
	LABUTILS_SMALL=1 $(PY) -m pytest -c pyproject.toml --rootdir . -q tests $(if $(SOLUTION_NOTEBOOKS),--nbval-lax $$work/*.ipynb); \
	status=$$?; rm -rf $$work; exit $$status

lint: $(STAMP)
	$(VENV)/bin/ruff check labutils tests benchmarks

test-fast: $(STAMP)
	$(PY) -m pytest -q tests

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow tests

test-gpu: $(STAMP)
	@work=$$(mktemp -d) && cp $(SOLUTION_NOTEBOOKS) $$work/ && \
	LABUTILS_REQUIRE_GPU=1 $(PY) -m pytest -c pyproject.toml --rootdir . -q tests/test_gpu.py --nbval-lax $$work/*.ipynb; \
	status=$$?; rm -rf $$work; exit $$status

test-browser: $(BROWSER_STAMP)
	@$(PY) -m pytest -c pyproject.toml --rootdir . -q -m browser tests/test_browser.py; \
	status=$$?; echo "Screenshots (the notebook after the run, and on a failure): build/browser/"; exit $$status

notebooks: $(STAMP)
	$(PY) -m labutils build-notebooks $(ARGS)

grade: $(STAMP)
	$(PY) -m labutils grade $(ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks.run $(ARGS)

bench-quick: $(STAMP)
	$(PY) -m benchmarks.run --quick

bench-grading: $(STAMP)
	$(PY) -m benchmarks.bench_grading $(ARGS)

autograder: $(STAMP)
	$(PY) -m labutils autograder --out autograder.zip $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
