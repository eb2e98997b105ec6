# Quick start: `make demo` runs the pipeline on the built-in example; `make test` runs the tests.
# Both create .venv on first use (and re-install when pyproject.toml changes).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test bench schemas docs clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	@sh examples/demo.sh $(BIN)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist worksteal tests

bench: $(STAMP)
	@for b in tools/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

schemas: $(STAMP)
	$(BIN)/neurodeploy schema -o schemas/

# the documentation site (mkdocs.yml) into site/; the command reference is generated from the CLI's help
DOCS_STAMP := $(VENV)/.docs-stamp
$(DOCS_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	@touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

clean:
	rm -rf $(VENV) build *.egg-info demo-out site
