# Two commands on a fresh machine with Python >= 3.10 and git:
#   make run    set everything up, then open the app on its bundled sample data
#   make test   set everything up, then run the tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
PACKAGE_STAMP := $(VENV)/.installed-package

.PHONY: run test test-slow test-interop lint bench bench-gui bench-package package screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when the project's requirements change. PyTorch first: its CPU build on Linux
# without an NVIDIA GPU (tools/install_torch.py says which build it chose).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python tools/install_torch.py
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/lmstudio-app

test: $(STAMP)
	$(BIN)/python -m ruff check lmstudio_app tests bench tools
	$(BIN)/lint-imports
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# The client suite: exports run through transformers 5 (this environment), transformers 4 and
# llama.cpp (llama-cpp-python, built from the package registry), each in its own environment
# under .interop/, made here when missing. llama.cpp is built for any x86-64 CPU: no native
# tuning, no AVX-512 or AMX kernels (some virtual machines fault on them). Writes its table
# of results to .interop/client-table.md.
INTEROP := .interop
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF \
	-DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF

$(INTEROP)/tf4/.installed: | $(STAMP)
	rm -rf $(INTEROP)/tf4
	$(PYTHON) -m venv $(INTEROP)/tf4
	$(INTEROP)/tf4/bin/python tools/install_torch.py
	$(INTEROP)/tf4/bin/python -m pip install --quiet \
		'transformers>=4.46,<5' tokenizers safetensors numpy
	touch $@

$(INTEROP)/llama/.installed:
	rm -rf $(INTEROP)/llama
	$(PYTHON) -m venv $(INTEROP)/llama
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(INTEROP)/llama/bin/python -m pip install --quiet \
		--no-cache-dir llama-cpp-python numpy
	touch $@

test-interop: $(STAMP) $(INTEROP)/tf4/.installed $(INTEROP)/llama/.installed
	$(BIN)/python -m pytest -q -m slow tests/core/interchange/test_clients.py
	@cat $(INTEROP)/client-table.md

lint: $(STAMP)
	$(BIN)/python -m ruff check lmstudio_app tests bench tools
	$(BIN)/python -m mypy

# CPU training speed, each training its own process: two at once (each one's share of its
# alone speed), then ours against nanoGPT's own train.py from a checkout:
#   make bench NANOGPT=path/to/nanoGPT   (without it, the last bench says so and fails)
NANOGPT ?=
bench: $(STAMP)
	$(BIN)/python bench/cli_start.py
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
	QT_QPA_PLATFORM=offscreen $(BIN)/python tools/screenshots_research.py --out docs/screenshots
	QT_QPA_PLATFORM=offscreen $(BIN)/python tools/screenshots_instruments.py --out docs/screenshots

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache $(INTEROP)
