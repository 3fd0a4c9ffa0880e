# Two entry points for a fresh machine: `make demo` and `make test`.
# Everything else (the virtualenv, the install) is created on demand.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint typecheck unit bench soak bundle clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "posplugin needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/posplugin demo

lint: $(STAMP)
	$(BIN)/ruff check posplugin drivers tests bench installer
	$(BIN)/ruff format --check posplugin drivers tests bench installer
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy --strict posplugin drivers

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck unit

# The quick loop while working: lint, types and every test but the slow end-to-end and browser ones.
test-fast: lint typecheck
	$(BIN)/python -m pytest -q -m "not slow and not browser"

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# Offline installer bundles for Linux x86_64 and Windows amd64 in dist/ (see README, "IT rollout"), and from them
# the .deb (dpkg-deb) and the .msi (wixl, msitools: apt-get install wixl msitools); see docs/packages.md.
bundle: $(STAMP)
	$(BIN)/python installer/build_bundle.py --out dist --deb --msi

soak: $(STAMP)
	POSPLUGIN_SOAK=1 $(BIN)/python -m pytest -q -s tests/test_crash_recovery.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist *.egg-info
