# RNN Music Lab. `make run` and `make test` set everything up on first use (.venv).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=
SOLUTION_NOTEBOOKS := $(sort $(wildcard solutions/*.ipynb))

.PHONY: help setup run test test-fast test-slow test-gpu lab notebooks grade bench bench-quick clean

help:
	@echo "make run        train on CPU/GPU, generate tunes, write runs/<name>/ (ARGS='--help' for flags)"
	@echo "make test       unit tests, notebook build check, solution notebooks under nbval (small settings)"
	@echo "make lab        open JupyterLab on notebooks/"
	@echo "make notebooks  rebuild notebooks/ from solutions/"
	@echo "make grade      grade submissions: make grade ARGS='submissions/ --out grades --jobs 2'"
	@echo "make bench      benchmarks against the lab notes' recipe (benchmarks/results/)"
	@echo "make test-gpu   GPU tests + the solution notebooks with full settings on a GPU"

$(STAMP): requirements.txt pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	@touch $@

setup: $(STAMP)

run: $(STAMP)
	$(PY) -m labutils run $(ARGS)

test: $(STAMP)
	$(PY) -m labutils build-notebooks --check
	LABUTILS_SMALL=1 $(PY) -m pytest -q tests $(if $(SOLUTION_NOTEBOOKS),--nbval-lax $(SOLUTION_NOTEBOOKS))

test-fast: $(STAMP)
	$(PY) -m pytest -q tests

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow tests

test-gpu: $(STAMP)
	LABUTILS_REQUIRE_GPU=1 $(PY) -m pytest -q tests/test_gpu.py --nbval-lax $(SOLUTION_NOTEBOOKS)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

notebooks: $(STAMP)
	$(PY) -m labutils build-notebooks

grade: $(STAMP)
	$(PY) -m labutils grade $(ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks.run $(ARGS)

bench-quick: $(STAMP)
	$(PY) -m benchmarks.run --quick

clean:
	rm -rf $(VENV) .pytest_cache
