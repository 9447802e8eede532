# Two commands on a fresh machine with Python >= 3.10 and git:
#   make run    set everything up, then open the app on its bundled sample data
#   make test   set everything up, then run the tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
PACKAGE_STAMP := $(VENV)/.installed-package

.PHONY: run test test-slow lint bench bench-gui bench-package package screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when the project's requirements change.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/lmstudio-app

test: $(STAMP)
	$(BIN)/python -m ruff check lmstudio_app tests bench tools
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/python -m ruff check lmstudio_app tests bench tools

# CPU training speed, each training its own process: two at once (each one's share of its
# alone speed), then ours against nanoGPT's own train.py from a checkout:
#   make bench NANOGPT=path/to/nanoGPT   (without it, the last bench says so and fails)
NANOGPT ?=
bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/fairness.py
	$(BIN)/python bench/vs_nanogpt.py $(if $(NANOGPT),--nanogpt $(NANOGPT))

# The window's costs: time to the first frame, UI latency while training and while the
# Playground's instruments compute, throughput vs headless, plot redraw.
bench-gui: $(STAMP)
	$(BIN)/python bench/startup.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/ui_latency.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/ui_latency.py --case views
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/gui_overhead.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python bench/plot_scale.py

# The one-folder bundle dist/lmstudio_app/ (PyInstaller onedir; see packaging/README.md).
$(PACKAGE_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,package]'
	touch $@

package: $(PACKAGE_STAMP)
	$(BIN)/python -m PyInstaller --noconfirm --log-level WARN --distpath dist \
		--workpath build/pyinstaller packaging/lmstudio_app.spec
	@du -sh dist/lmstudio_app

# The bundle's size, start time and CLI run (builds it when out of date).
bench-package: $(PACKAGE_STAMP)
	$(BIN)/python bench/bundle.py

# Pictures of each page for the docs (offscreen: no display needed).
screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python tools/screenshots.py --out docs/screenshots
	QT_QPA_PLATFORM=offscreen $(BIN)/python tools/screenshots_runs.py --out docs/screenshots

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
