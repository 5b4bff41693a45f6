# Set-up and entry points. `make demo` and `make test` install what is missing first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Debian packages headless rendering (pyrender on EGL or OSMesa) needs.
SYSTEM_PACKAGES := libegl1 libgl1 libegl-mesa0 libgles2 libosmesa6
# Debian's browser the viewer's tests run in (headless, software WebGL).
BROWSER_PACKAGES := chromium

.PHONY: setup system-deps rendering-deps browser-deps demo test test-fast mutate wheel clean

setup: $(STAMP) system-deps

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[smpl,datasets,test,ray]"
	# pyrender 0.1.45 pins PyOpenGL 3.1.0, whose OSMesa binding lacks the context call
	# pyrender uses; 3.1.7 renders on both EGL and OSMesa (pip will note the broken pin).
	$(PY) -m pip install -q --no-deps PyOpenGL==3.1.7 2>&1 | grep -v "pyrender\|dependency conflicts" || true
	touch $(STAMP)

system-deps: rendering-deps browser-deps

rendering-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing rendering packages:$$missing"; \
	  (apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing >/dev/null)) \
	  || echo "warning: could not install$$missing; rendering will be unavailable"; \
	else \
	  echo "rendering needs these Debian packages:$$missing"; \
	  echo "  sudo apt-get install$$missing"; \
	fi

# Debian's Chromium: the `vibe view` browser tests drive it through playwright (which never
# downloads a browser); without it those tests skip. A fresh container's package lists are
# empty, so update first; a failed install only warns.
browser-deps:
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing $(BROWSER_PACKAGES) for the viewer's browser tests (apt-get update first)"; \
	  (apt-get update -q >/dev/null 2>&1 && \
	   apt-get install -y -q --no-install-recommends $(BROWSER_PACKAGES) >/dev/null 2>&1) \
	  || echo "warning: could not install $(BROWSER_PACKAGES) (apt-get failed); the vibe view browser tests will be skipped"; \
	else \
	  echo "the vibe view browser tests need Debian's $(BROWSER_PACKAGES) (they skip without it):"; \
	  echo "  sudo apt-get install $(BROWSER_PACKAGES)"; \
	fi

demo: setup
	$(VENV)/bin/vibe demo

test: setup
	$(PY) -m pytest -q

# Skips the slow marker (model training smoke runs, Anny construction).
test-fast: setup
	$(PY) -m pytest -q -m "not slow"

# Mutation testing of the orchestration modules (docs/testing.md): on demand only, never in CI or
# `make test` (tens of minutes per module on 2 cores). MODULES= picks modules under src/vibe/,
# e.g. `make mutate MODULES=pipeline/tracker.py`; `tools/mutate.py --list` shows them all.
mutate: setup
	OMP_NUM_THREADS=1 $(PY) tools/mutate.py $(MODULES)

# A wheel to `pip install` outside this repository (README "Installing elsewhere"): dist/vibe_hmr-VERSION-py3-none-any.whl,
# ~34 MB with the open weights and the motion database.
wheel: $(STAMP)
	$(PY) -m pip wheel -q --no-deps -w dist .

clean:
	rm -rf $(VENV) .pytest_cache build dist src/*.egg-info mutants mutants-*.json
