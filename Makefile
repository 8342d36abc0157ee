# The two set-up commands of the README:
#   make app    installs what the app needs and starts it (streamlit run app.py)
#   make test   installs what the tests need and runs the whole suite
# and for authors of docs:
#   make docs   takes every figure of docs/shots.txt into docs/screenshots/ (ONLY=name: that one)
PYTHON ?= python3
PORT ?= 8501

.PHONY: app test docs install install-dev system-packages bench

# Graphviz's `dot` renders exports; Chromium drives the browser tests; nginx fronts the replicas of
# deploy/ (a test goes through it). Installed from Debian when missing and we are root (CI is);
# otherwise say so.
system-packages:
	@missing=""; \
	command -v dot >/dev/null || missing="$$missing graphviz"; \
	[ -n "$(WITH_BROWSER)" ] && ! [ -x /usr/bin/chromium ] && missing="$$missing chromium fonts-dejavu-core"; \
	[ -n "$(WITH_BROWSER)" ] && ! [ -x /usr/sbin/nginx ] && missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "please install the Debian packages:$$missing (sudo apt-get install$$missing)"; exit 1; \
	  fi; \
	fi

install: system-packages
	$(PYTHON) -m pip install -q -r requirements.txt

install-dev:
	$(MAKE) system-packages WITH_BROWSER=1
	$(PYTHON) -m pip install -q -r requirements-dev.txt

app: install
	$(PYTHON) -m streamlit run app.py --server.port $(PORT)

test: install-dev
	$(PYTHON) -m pytest

# One server and one browser for every figure (python -m explorer shot --help); Playwright and Chromium come
# with the test dependencies.
docs: install-dev
	$(PYTHON) -m explorer shot --list docs/shots.txt --out-dir docs/screenshots $(if $(ONLY),--only $(ONLY))

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(PYTHON) $$b || exit 1; done
