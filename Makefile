# Two commands for a fresh Debian machine (run as root, or with sudo available):
#   make demo   installs everything, then runs the main job
#   make test   installs everything, then runs the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
DEBS := espeak-ng flite sox pocketsphinx-testdata redis-server chromium chromium-driver \
        sip-tester baresip-core openssl
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup demo test lint

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(VENV)/bin/healthdial demo --contacts 300

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
