# swiftsoftmax — `make` builds the library, `make test` runs every test, `make demo` the walk-through.
PYTHON ?= python3
SWIFT  ?= swift
CC     ?= cc
BUILD  := .build/release
LIB    := $(BUILD)/libswiftsoftmax.so
SOURCES := Package.swift $(shell find Sources -name '*.swift' -o -name '*.c' -o -name '*.h')
PYDEPS := numpy pytest hypothesis

.PHONY: all lib pydeps test test-swift test-c test-python demo bench clean

all: lib
lib: $(LIB)

$(LIB): $(SOURCES)
	$(SWIFT) build -c release
	@touch $@

# Installs the Python packages the tests need when they are missing (a fresh machine has pip).
pydeps:
	@$(PYTHON) -c "import numpy, pytest, hypothesis" 2>/dev/null || $(PYTHON) -m pip install --quiet $(PYDEPS)

test: test-swift test-c test-python

test-swift:
	$(SWIFT) test

test-c: $(LIB)
	$(CC) -std=c99 -Wall -Wextra -pedantic -Werror -Iinclude Tests/CABI/abi_test.c \
	    -L$(BUILD) -lswiftsoftmax -Wl,-rpath,$(CURDIR)/$(BUILD) -lm -o $(BUILD)/abi_test
	$(BUILD)/abi_test

test-python: $(LIB) pydeps
	cd python && $(PYTHON) -m pytest -q tests

demo: $(LIB) pydeps
	cd python && $(PYTHON) -m swiftsoftmax demo

bench: $(LIB) pydeps
	cd python && $(PYTHON) -m swiftsoftmax bench

clean:
	rm -rf .build
