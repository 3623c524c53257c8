# The two set-up commands (README): `make demo` and `make test`.
# Both create .venv with the pinned versions (constraints.txt) when it is missing.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
EXTRAS ?= dev,eval,ray

.PHONY: demo test lint bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade "pip>=24"
	$(VENV)/bin/python -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]"
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/avseq demo -o demo_out

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check avseq tests tools
	$(VENV)/bin/ruff format --check avseq tests tools

clean:
	rm -rf $(VENV) .pytest_cache
