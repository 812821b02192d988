# swiftsoftmax — `make` builds the library, `make test` runs every test, `make demo` the walk-through.
# `make help` lists the targets. A fresh machine needs the Swift 6 toolchain and Python 3 with pip;
# the Python packages the targets use are pip-installed when missing.
# The tiered build: every CPU tier, -Ounchecked, the Swift runtime inside the .so (Package.swift;
# docs/design.md, "Builds"). Without it, SwiftPM makes the portable build a dependent gets.
export SWIFTSOFTMAX_TIERED := 1
PYTHON ?= python3
SWIFT  ?= swift
CC     ?= cc
BUILD  := .build/release
LIB    := $(BUILD)/libswiftsoftmax.so
SOURCES := Package.swift $(shell find Sources -name '*.swift' -o -name '*.c' -o -name '*.h')
# Python packages (import names = pip names): what the package needs, and what tests/benchmarks add.
PYDEPS_RUN  := numpy
# dask + distributed: the optional extra swiftsoftmax.dask runs on (tests/test_dask.py); mypy: test-types;
# ml_dtypes: bfloat16 arrays (tests/test_bfloat16.py), optional for the package.
PYDEPS_TEST := pytest hypothesis scipy mpmath dask distributed mypy ml_dtypes
PYDEPS      := $(PYDEPS_RUN) $(PYDEPS_TEST)
PIP_FLAGS   ?= --quiet --disable-pip-version-check
# Extra arguments, e.g. `make demo DEMO_ARGS="--plot figures"`.
DEMO_ARGS   ?=
BENCH_ARGS  ?=
PYTEST_ARGS ?= -q

.PHONY: all lib pydeps pydeps-run test test-swift test-c test-python test-types test-tiers test-header demo bench bench-dask info help clean

all: lib ## build the release library .build/release/libswiftsoftmax.so (the default)
lib: $(LIB)

# Always asks SwiftPM, which rebuilds only what changed: a bare `swift build` in between makes
# the portable build in the same place, which file times alone would not reveal.
$(LIB): FORCE
	@$(SWIFT) build -c release | grep -v '^\[' ; test -f $@
FORCE:

# $(call pip_install,packages): installs those of `packages` that do not import. pip may refuse
# to touch a system Python (PEP 668, e.g. Debian 12): then retry as a --user install, and finally
# with --break-system-packages (which, with --user, still only writes to ~/.local).
define pip_install
	@missing="$$($(PYTHON) -c 'import importlib.util as u, sys; print(*[m for m in sys.argv[1:] if u.find_spec(m) is None])' $(1))" || exit 1; \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Python packages: $$missing"; \
	  $(PYTHON) -m pip --version >/dev/null 2>&1 || { \
	    echo "error: $(PYTHON) has no pip. Install it (Debian/Ubuntu: apt-get install python3-pip)" \
	         "or install these packages yourself: $$missing" >&2; exit 1; }; \
	  $(PYTHON) -m pip install $(PIP_FLAGS) $$missing 2>/dev/null \
	  || { echo "  (pip refused a plain install; trying --user)"; \
	       $(PYTHON) -m pip install $(PIP_FLAGS) --user $$missing 2>/dev/null; } \
	  || { echo "  (trying --user --break-system-packages)"; \
	       $(PYTHON) -m pip install $(PIP_FLAGS) --user --break-system-packages $$missing; } \
	  || { echo "error: pip could not install: $$missing" >&2; exit 1; }; \
	fi
endef

pydeps: ## pip-install the Python packages of the tests and benchmarks when missing
	$(call pip_install,$(PYDEPS))

pydeps-run:
	$(call pip_install,$(PYDEPS_RUN))

test: test-swift test-c test-python test-types test-tiers examples ## run every test: swift test, the C ABI test, pytest, mypy, every CPU tier, the examples

test-swift: ## the Swift Testing suite
	$(SWIFT) test

# The C programs in Tests/CABI, each compiled against the header and the library, then run.
C_TESTS := abi_test loss_test hostile_test partial_test
C_FLAGS := -std=c99 -Wall -Wextra -pedantic -Werror -Iinclude
test-c: $(addprefix $(BUILD)/,$(C_TESTS)) test-header ## compile and run the C programs that call every exported function
	@set -e; for t in $(C_TESTS); do echo "$(BUILD)/$$t"; $(BUILD)/$$t; done

$(BUILD)/%_test: Tests/CABI/%_test.c include/swiftsoftmax.h $(LIB)
	$(CC) $(C_FLAGS) $< -L$(BUILD) -lswiftsoftmax -Wl,-rpath,$(CURDIR)/$(BUILD) -lm -pthread -o $@

# The header alone, as C99 and as C++11, with every warning an error (gcc/g++, and clang if present).
HEADER_CHECK = printf '\043include "swiftsoftmax.h"\nint main(void) { return ssm_get_num_threads() > 0 ? 0 : 1; }\n' \
	| $(1) -Wall -Wextra -pedantic -Werror -Iinclude -fsyntax-only - && echo "header: ok with $(1)"
test-header: ## compile include/swiftsoftmax.h as C99 and C++11 under -Wall -Wextra -pedantic -Werror
	@$(call HEADER_CHECK,$(CC) -std=c99 -x c)
	@$(call HEADER_CHECK,c++ -std=c++11 -x c++)
	@if command -v clang >/dev/null; then $(call HEADER_CHECK,clang -std=c99 -x c); fi
	@if command -v clang++ >/dev/null; then $(call HEADER_CHECK,clang++ -std=c++11 -x c++); fi

test-python: $(LIB) pydeps ## the pytest suite in python/tests
	cd python && $(PYTHON) -m pytest $(PYTEST_ARGS) tests

# The configuration (Python version, the optional peers read as untyped) is python/pyproject.toml's
# [tool.mypy]. The library need not be built: mypy reads the sources only.
test-types: pydeps ## mypy --strict over the Python package, private modules included
	cd python && $(PYTHON) -m mypy --strict

# The tiers this CPU runs, slowest first, as the built library reports them (its tier table:
# docs/design.md, "CPU tiers"). Recipes that need it depend on $(LIB) and pydeps-run.
CPU_TIERS = $(shell cd python && $(PYTHON) -m swiftsoftmax info --tiers)

# The default run above uses the best tier; this forces every other tier the CPU has
# (SWIFTSOFTMAX_ISA) through the C ABI tests and the kernel-facing pytest files.
TIER_TESTS := tests/test_accuracy.py tests/test_special_values.py tests/test_forward.py tests/test_loss.py \
              tests/test_partial.py tests/test_bce.py tests/test_derivatives.py tests/test_divergence.py \
              tests/test_logcumsumexp.py tests/test_ce_options.py
test-tiers: $(LIB) $(BUILD)/abi_test $(BUILD)/partial_test pydeps ## the kernel tests again on every other CPU tier this machine has
	@set -e; tiers="$(CPU_TIERS)"; best=$${tiers##* }; echo "tiers this CPU runs: $$tiers"; \
	for t in $$tiers; do \
	  [ "$$t" = "$$best" ] && continue; \
	  echo "== tier $$t =="; \
	  SWIFTSOFTMAX_ISA=$$t $(BUILD)/abi_test | tail -1; \
	  SWIFTSOFTMAX_ISA=$$t $(BUILD)/partial_test; \
	  (cd python && SWIFTSOFTMAX_ISA=$$t $(PYTHON) -m pytest $(PYTEST_ARGS) $(TIER_TESTS)); \
	done

demo: $(LIB) pydeps-run ## the article's walk-through, computed by the library (DEMO_ARGS=...)
	cd python && $(PYTHON) -m swiftsoftmax demo $(DEMO_ARGS)

bench: $(LIB) pydeps ## benchmarks against NumPy/SciPy (BENCH_ARGS=...)
	cd python && $(PYTHON) -m swiftsoftmax bench $(BENCH_ARGS)

bench-dask: $(LIB) pydeps ## the scale-out row: swiftsoftmax.dask vs Dask's idiom on a LocalCluster (~20 s, 1 GiB)
	cd python && $(PYTHON) -m swiftsoftmax bench --dask

# ---- sanitizers and fuzzing (docs/reliability.md) ---------------------------------------------
# Sanitized builds live in their own scratch directories and link the Swift runtime dynamically
# (SWIFTSOFTMAX_SANITIZE=1, see Package.swift). The C tests are compiled by the toolchain's clang,
# whose sanitizer runtimes are the ones Swift uses.
SWIFT_BIN    := $(shell dirname "$$(readlink -f "$$(command -v $(SWIFT))")" 2>/dev/null)
SAN_CC       ?= $(SWIFT_BIN)/clang
SWIFTC       ?= $(SWIFT_BIN)/swiftc
SWIFT_LIBDIR ?= $(SWIFT_BIN)/../lib/swift/linux
SAN_CFLAGS   := $(C_FLAGS) -g -fno-omit-frame-pointer -fuse-ld=lld
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := .build-fuzz
FUZZ_ARGS    ?=
# Names of fuzz invariants to leave unchecked while a kernel bug is open (docs/reliability.md):
# e.g. FUZZ_SKIP=huge-difference (float64 log_softmax, temperature != 1, |x - max| > ~1e300, a
# bug since fixed and kept as a regression case). Empty, the default, checks everything.
FUZZ_SKIP    ?=

.PHONY: sanitize sanitize-address sanitize-thread fuzz

sanitize: sanitize-address sanitize-thread ## Swift tests and C ABI tests under AddressSanitizer, then ThreadSanitizer

sanitize-address: $(LIB) pydeps-run ## Swift tests + C ABI tests (every CPU tier) under AddressSanitizer (.build-asan)
	SWIFTSOFTMAX_SANITIZE=1 $(SWIFT) build --sanitize=address --scratch-path .build-asan --build-tests
	SWIFTSOFTMAX_SANITIZE=1 ASAN_OPTIONS=detect_leaks=0 $(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan
	@set -e; for t in $(C_TESTS); do \
	  $(SAN_CC) $(SAN_CFLAGS) -fsanitize=address Tests/CABI/$$t.c -L.build-asan/debug -lswiftsoftmax \
	      -Wl,-rpath,$(CURDIR)/.build-asan/debug -lm -pthread -o .build-asan/$$t; \
	  for isa in $(CPU_TIERS); do \
	    echo "ASan: $$t on $$isa"; \
	    SWIFTSOFTMAX_ISA=$$isa ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 .build-asan/$$t; \
	  done; \
	done

sanitize-thread: $(LIB) pydeps-run ## Swift tests + C ABI tests (every CPU tier) under ThreadSanitizer (.build-tsan)
	SWIFTSOFTMAX_SANITIZE=1 $(SWIFT) build --sanitize=thread --scratch-path .build-tsan --build-tests
	SWIFTSOFTMAX_SANITIZE=1 TSAN_OPTIONS=halt_on_error=1 $(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan
	@set -e; for t in $(C_TESTS); do \
	  $(SAN_CC) $(SAN_CFLAGS) -fsanitize=thread Tests/CABI/$$t.c -L.build-tsan/debug -lswiftsoftmax \
	      -Wl,-rpath,$(CURDIR)/.build-tsan/debug -L$(SWIFT_LIBDIR) -ldispatch -lBlocksRuntime \
	      -Wl,-rpath,$(SWIFT_LIBDIR) -lm -pthread -o .build-tsan/$$t; \
	  for isa in $(CPU_TIERS); do \
	    echo "TSan: $$t on $$isa"; \
	    SWIFTSOFTMAX_ISA=$$isa TSAN_OPTIONS=halt_on_error=1 .build-tsan/$$t; \
	  done; \
	done

fuzz: $(LIB) pydeps-run ## libFuzzer + ASan over the C ABI for FUZZ_SECONDS (default 60), split over the CPU tiers
	SWIFTSOFTMAX_SANITIZE=1 $(SWIFT) build --sanitize=address --scratch-path $(FUZZ_BUILD) --product swiftsoftmax \
	    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp
	$(SWIFTC) -sanitize=fuzzer,address -parse-as-library -O -use-ld=lld -I fuzz/CSwiftSoftmax fuzz/FuzzABI.swift \
	    -L$(FUZZ_BUILD)/debug -lswiftsoftmax -Xlinker -rpath -Xlinker $(CURDIR)/$(FUZZ_BUILD)/debug -o $(FUZZ_BUILD)/fuzz-abi
	@mkdir -p $(FUZZ_BUILD)/corpus
	@set -e; tiers="$(CPU_TIERS)"; set -- $$tiers; each=$$(( ($(FUZZ_SECONDS) + $$# - 1) / $$# )); \
	for isa in $$tiers; do \
	  echo "fuzz: $$each s on tier $$isa"; \
	  log=$(FUZZ_BUILD)/fuzz-$$isa.log; \
	  if ! FUZZ_SKIP=$(FUZZ_SKIP) SWIFTSOFTMAX_ISA=$$isa SWIFT_BACKTRACE=enable=no $(FUZZ_BUILD)/fuzz-abi -max_total_time=$$each \
	      -print_final_stats=1 -timeout=20 -rss_limit_mb=4096 -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_ARGS) \
	      $(FUZZ_BUILD)/corpus fuzz/corpus > $$log 2>&1; then \
	    grep -v '^#' $$log | tail -40; echo "fuzz: FAILED on tier $$isa (log: $$log)"; exit 1; \
	  fi; \
	  grep -E '^(FuzzABI|Done|stat::average_exec)' $$log; \
	done

# ---- distribution: wheel, make install + pkg-config, examples --------------------------------------
# The one version number: the header's SSM_VERSION_MAJOR, _MINOR and _PATCH, joined with dots.
VERSION ?= $(shell sed -n 's/^\#define SSM_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$$/\2/p' include/swiftsoftmax.h | paste -sd.)
PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: wheel check-wheel sdist check-sdist install uninstall install-check examples example-c example-swift

# pip wheel makes a linux_x86_64 wheel; auditwheel checks the library's glibc/libstdc++ symbol
# versions and retags it with the lowest manylinux policy they allow (docs/python.md, "Installing /
# the wheel"). `--patcher none`: nothing may need grafting or patching (the library links the Swift
# runtime statically), so a new external dependency fails here instead of being copied in.
wheel: ## a manylinux wheel in dist/ (python/setup.py runs swift build -c release; auditwheel retags it)
	$(call pip_install,auditwheel)
	rm -rf python/build dist/swiftsoftmax-*.whl
	$(PYTHON) -m pip wheel $(PIP_FLAGS) --no-deps -w python/build/wheel ./python
	@out=$$($(PYTHON) -m auditwheel repair --patcher none -w dist python/build/wheel/swiftsoftmax-*.whl 2>&1) \
	  || { echo "$$out" >&2; echo "wheel: auditwheel repair failed" >&2; exit 1; }
	$(PYTHON) -m auditwheel show dist/swiftsoftmax-$(VERSION)-*.whl
	@ls -l dist/swiftsoftmax-*.whl

# The wheel, installed into fresh venvs (every CPython 3.9-3.13 found, NumPy 1.26, the newest
# NumPy 2), must work with no Swift toolchain on PATH or LD_LIBRARY_PATH and from outside the
# checkout; python/tools/check_wheel.py says how. CHECK_WHEEL_ARGS=--strict makes a skip a failure.
CHECK_WHEEL_ARGS ?=
check-wheel: wheel ## install the wheel in fresh venvs (CPython 3.9-3.13, NumPy 1.26 and 2) and use it without a toolchain
	$(PYTHON) python/tools/check_wheel.py $(CHECK_WHEEL_ARGS) dist/swiftsoftmax-$(VERSION)-*.whl

# The sdist carries the Swift package under swift/ (python/setup.py, SdistWithSwiftSources);
# installing it builds the library with the local Swift toolchain.
SDIST := dist/swiftsoftmax-$(VERSION).tar.gz
sdist: ## a source distribution in dist/ (python -m build --sdist; it carries the Swift sources)
	$(call pip_install,build)
	rm -f $(SDIST)
	@out=$$(cd python && $(PYTHON) -m build --sdist --outdir ../dist 2>&1) \
	  || { echo "$$out" >&2; echo "sdist: python -m build --sdist failed" >&2; exit 1; }
	@ls -l $(SDIST)

# The sdist's file list against the checkout, its install without a toolchain (which must fail
# naming the Swift toolchain) and, unless CHECK_SDIST_BUILD=0, its install with the toolchain
# (a full swift build -c release, about a minute on 2 cores) and check_install.py.
CHECK_SDIST_BUILD ?= 1
check-sdist: sdist ## check the sdist's files, its install without Swift (a clear error) and with Swift (CHECK_SDIST_BUILD=0 skips)
	$(PYTHON) python/tools/check_sdist.py $(if $(filter 0 no,$(CHECK_SDIST_BUILD)),--no-build) \
	    --swift "$$(command -v $(SWIFT) || true)" $(SDIST)

install: $(LIB) ## install lib/libswiftsoftmax.so, include/swiftsoftmax.h, lib/pkgconfig/swiftsoftmax.pc under PREFIX
	install -d "$(DESTDIR)$(PREFIX)/lib/pkgconfig" "$(DESTDIR)$(PREFIX)/include"
	install -m 755 $(LIB) "$(DESTDIR)$(PREFIX)/lib/libswiftsoftmax.so"
	install -m 644 include/swiftsoftmax.h "$(DESTDIR)$(PREFIX)/include/swiftsoftmax.h"
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' swiftsoftmax.pc.in \
	    > "$(DESTDIR)$(PREFIX)/lib/pkgconfig/swiftsoftmax.pc"

uninstall: ## remove what `make install PREFIX=...` installed
	rm -f "$(DESTDIR)$(PREFIX)/lib/libswiftsoftmax.so" "$(DESTDIR)$(PREFIX)/include/swiftsoftmax.h" \
	    "$(DESTDIR)$(PREFIX)/lib/pkgconfig/swiftsoftmax.pc"

install-check: $(LIB) ## make install into a temp PREFIX, then build examples/c/app.c with pkg-config and run it
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(MAKE) --no-print-directory install PREFIX="$$tmp/prefix" >/dev/null; \
	export PKG_CONFIG_PATH="$$tmp/prefix/lib/pkgconfig"; \
	test "$$(pkg-config --modversion swiftsoftmax)" = "$(VERSION)"; \
	flags="$$(pkg-config --cflags --libs swiftsoftmax)"; \
	echo "install-check: cc app.c $$flags"; \
	cp examples/c/app.c "$$tmp/"; cd "$$tmp"; \
	$(CC) -std=c99 -Wall -Wextra -pedantic -Werror app.c $$flags -o app; \
	LD_LIBRARY_PATH="$$tmp/prefix/lib" ./app

examples: example-c example-swift ## build and run examples/c (C) and examples/swift (a SwiftPM package)

# examples/c/linear_ce.c takes its matrix product from cblas when a test compile and link finds
# <cblas.h> with -lopenblas or -lcblas, else from its own plain loop (expanded only when used).
EXAMPLE_CBLAS = $(shell for lib in -lopenblas -lcblas; do \
	  printf '\043include <cblas.h>\nint main(void){return 0;}\n' | $(CC) -x c - $$lib -o /dev/null 2>/dev/null \
	    && { echo "-DSSM_EXAMPLE_CBLAS $$lib"; break; }; done)

example-c: $(LIB)
	$(CC) -std=c99 -Wall -Wextra -pedantic -Werror -Iinclude examples/c/app.c \
	    -L$(BUILD) -lswiftsoftmax -Wl,-rpath,$(CURDIR)/$(BUILD) -o $(BUILD)/example_c
	$(BUILD)/example_c
	blas="$(EXAMPLE_CBLAS)"; \
	$(CC) -std=c99 -O2 -Wall -Wextra -pedantic -Werror -Iinclude $${blas%% -l*} examples/c/linear_ce.c \
	    -L$(BUILD) -lswiftsoftmax $${blas##* } -lm -Wl,-rpath,$(CURDIR)/$(BUILD) -o $(BUILD)/example_linear_ce
	$(BUILD)/example_linear_ce

# examples/swift depends on swiftsoftmax by version, as a user's package does: on a git repository
# of this working tree (tracked and new files, symlinks kept), tagged $(VERSION). SwiftPM refuses
# unsafe flags from a version dependency, so this is also the test that the manifest a dependent
# sees has none: the tiered build's variable is unset for it.
EXAMPLE_GIT := .build/example-dependency/swiftsoftmax
example-swift: ## build and run examples/swift against this checkout as a tagged version dependency
	@rm -rf $(EXAMPLE_GIT) examples/swift/Package.resolved examples/swift/.build
	@mkdir -p $(EXAMPLE_GIT)
	@git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null \
	    | tar -xf - -C $(EXAMPLE_GIT)
	@cd $(EXAMPLE_GIT) && git init -q && git add -A && git -c user.name=make -c user.email=make@localhost \
	    commit -qm "swiftsoftmax $(VERSION)" && git tag $(VERSION)
	cd examples/swift && env -u SWIFTSOFTMAX_TIERED SWIFTSOFTMAX_GIT_URL=$(CURDIR)/$(EXAMPLE_GIT) \
	    $(SWIFT) run -c debug --disable-dependency-cache SoftmaxExample

.PHONY: bench-deps
bench-deps: ## pip-install the benchmark's optional peers (JAX on CPU, optax, ONNX Runtime, onnx, PyTorch: ~5 GB); `bench` runs without them
	$(PYTHON) -m pip install $(PIP_FLAGS) "jax[cpu]" optax onnxruntime onnx torch

info: $(LIB) pydeps-run ## version, library path, CPU tier and threads of the built library
	cd python && $(PYTHON) -m swiftsoftmax info

help: ## list the targets
	@echo "make [target] [PYTHON=python3] [SWIFT=swift] [CC=cc]"
	@awk 'BEGIN { FS = ":[^#]*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

clean: ## remove the build directory (and the sanitizer/fuzz scratch directories)
	rm -rf .build .build-asan .build-tsan .build-fuzz
