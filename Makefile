# t2ialign: `make demo` runs the alignment loop on the embedded toy world; `make test` runs the tests.
# Both create .venv on a fresh machine and install everything they need.

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
BUF     := .tools/node_modules/.bin/buf
export PYTHONUNBUFFERED := 1

.PHONY: setup demo test lint proto buf clean-venv

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: these wheels lie on this machine's disk; any other version downloads gigabytes
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

$(BUF):
	@command -v npm >/dev/null && npm install --silent --prefix .tools @bufbuild/buf >/dev/null 2>&1 \
		|| echo "npm or @bufbuild/buf unavailable: buf lint will be skipped"

buf: $(BUF)

demo: setup
	$(VENV)/bin/t2ialign demo

lint: setup
	$(VENV)/bin/ruff check services tests benchmarks
	$(VENV)/bin/ruff format --check services tests benchmarks

test: setup buf lint
	$(VENV)/bin/pytest -q

proto: setup
	$(PY) -m t2ialign.common.protogen

clean-venv:
	rm -rf $(VENV)
