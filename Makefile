# pystack-dump: see README.md. `make` builds build/pystack-dump; `make test` runs every test.
CXX      ?= g++
BUILD    ?= build
OPT      ?= -O2
CXXFLAGS ?= $(OPT) -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Wno-missing-field-initializers -Isrc -Ithird_party -MMD -MP
ABSL     := absl_status absl_statusor absl_strings absl_str_format absl_flat_hash_map absl_time
DEPS_OK  := $(BUILD)/.deps-ok

LIB_SRCS  := $(sort $(wildcard src/common/*.cc src/memory/*.cc src/symbols/*.cc src/cpython/*.cc src/format/*.cc src/sources/*.cc src/snapshot/*.cc src/sampling/*.cc src/native/*.cc))
CLI_SRCS  := $(sort $(wildcard src/cli/*.cc))
UNIT_SRCS := $(sort $(wildcard tests/unit/*.cc))
SYSTEM_SRCS:= $(sort $(wildcard tests/system/*.cc))
INTEG_SRCS:= $(sort $(wildcard tests/integration/*.cc))
BENCH_SRCS:= $(sort $(wildcard tests/bench/*.cc))

LIB_OBJS  := $(LIB_SRCS:%.cc=$(BUILD)/obj/%.o)
CLI_OBJS  := $(CLI_SRCS:%.cc=$(BUILD)/obj/%.o)
UNIT_OBJS := $(UNIT_SRCS:%.cc=$(BUILD)/obj/%.o)
SYSTEM_OBJS:= $(SYSTEM_SRCS:%.cc=$(BUILD)/obj/%.o)
INTEG_OBJS:= $(INTEG_SRCS:%.cc=$(BUILD)/obj/%.o)
BENCH_OBJS:= $(BENCH_SRCS:%.cc=$(BUILD)/obj/%.o)

.PHONY: all deps test unit-test integration-test demo bench layouts check-layouts clean \
        check-sanitizers fuzz install uninstall static deb
all: $(BUILD)/pystack-dump

# Installs missing Debian packages once (scripts/install-deps), before anything compiles.
$(DEPS_OK): scripts/install-deps
	@scripts/install-deps
	@mkdir -p $(@D) && touch $@
deps: $(DEPS_OK)

# Abseil is linked statically: loading thirty shared libraries would cost the tool more start-up
# time than a whole dump takes.
ABSL_LIBS = $(patsubst -labsl_%,-l:libabsl_%.a,$(shell pkg-config --libs $(ABSL) 2>/dev/null))
LIBS = -Wl,-z,relro,-z,now -Wl,--as-needed -ldw -lelf -lz $(ABSL_LIBS) -pthread -static-libstdc++ -static-libgcc

$(BUILD)/obj/%.o: %.cc | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/libpystack.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/pystack-dump: $(CLI_OBJS) $(BUILD)/libpystack.a
	$(CXX) $(CXXFLAGS) -o $@ $^ $(LIBS)

# The exit codes and warnings are cli/'s; the unit tests check what the library's errors become
# and what the warnings say.
$(BUILD)/unit-tests: $(UNIT_OBJS) $(BUILD)/obj/src/cli/exit_codes.o $(BUILD)/obj/src/cli/report.o \
                     $(BUILD)/libpystack.a
	$(CXX) $(CXXFLAGS) -o $@ $^ -lgtest_main -lgtest -pthread $(LIBS)

# Tests of the library against the real files of the interpreters on this machine (ELF symbol
# lookups, live interpreters): each skips, saying so, what the machine lacks.
$(BUILD)/system-tests: $(SYSTEM_OBJS) $(BUILD)/libpystack.a
	$(CXX) $(CXXFLAGS) -o $@ $^ -lgtest_main -lgtest -pthread $(LIBS)

$(BUILD)/integration-tests: $(INTEG_OBJS) $(BUILD)/libpystack.a | $(BUILD)/pystack-dump
	$(CXX) $(CXXFLAGS) -o $@ $^ -lgtest_main -lgtest -pthread $(LIBS)

$(BUILD)/bench: $(BENCH_OBJS)
	$(CXX) $(CXXFLAGS) -o $@ $^

unit-test: $(BUILD)/unit-tests
	$(BUILD)/unit-tests

integration-test: $(BUILD)/integration-tests $(BUILD)/pystack-dump
	@scripts/install-deps --test
	PYSTACK_DUMP=$(BUILD)/pystack-dump $(BUILD)/integration-tests

# Every suite runs even when an earlier one fails; the last line counts them all. The binaries
# are built with every core first.
TEST_BINARIES := $(BUILD)/pystack-dump $(BUILD)/unit-tests $(BUILD)/system-tests \
                 $(BUILD)/integration-tests
# `make test PYTHON="/path/to/python ..."` tests those interpreters too.
test: $(DEPS_OK)
	@$(MAKE) --no-print-directory -j$$(nproc) $(TEST_BINARIES) $(BUILD)/pystack-dump-static deb
	scripts/run-tests $(BUILD) $(foreach p,$(PYTHON),--python $(p))

demo: $(DEPS_OK)
	@$(MAKE) --no-print-directory -j$$(nproc) $(BUILD)/pystack-dump
	@scripts/install-deps --demo
	@scripts/demo $(BUILD)/pystack-dump

bench: $(BUILD)/pystack-dump $(BUILD)/bench
	@scripts/install-deps --bench
	@scripts/make-root unstable >/dev/null || echo "bench: no Debian unstable root: 3.13-3.15 not measured"
	@scripts/make-root bullseye >/dev/null || echo "bench: no Debian 11 root: its 2.7 and 3.9 not measured"
	$(BUILD)/bench $(BUILD)/pystack-dump
	python3.11 scripts/bench-sampler $(BUILD)/pystack-dump

# The tests again, everything built with AddressSanitizer and UndefinedBehaviorSanitizer (a report
# ends the program: -fno-sanitize-recover), in a build directory of their own.
SANITIZERS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
check-sanitizers: $(DEPS_OK)
	@$(MAKE) --no-print-directory -j$$(nproc) BUILD=$(BUILD)/sanitizers OPT="-O1 $(SANITIZERS)" \
	  $(patsubst $(BUILD)/%,$(BUILD)/sanitizers/%,$(TEST_BINARIES))
	@ln -sfn ../roots $(BUILD)/sanitizers/roots  # the Debian roots' interpreters, built once
	@ln -sfn ../pythons $(BUILD)/sanitizers/pythons  # and the free-threaded CPython
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  scripts/run-tests $(BUILD)/sanitizers

# libFuzzer targets (clang) for every decoder of hostile input (tests/fuzz/*_fuzz.cc), each run
# for FUZZ_SECONDS from its committed seeds (tests/fuzz/corpus/NAME) and regression inputs
# (tests/fuzz/regressions/NAME); what a run finds goes to $(BUILD)/fuzz/found/NAME, a crash to
# $(BUILD)/fuzz/crashes/ (commit it to tests/fuzz/regressions/NAME once fixed).
FUZZ_SECONDS ?= 30
FUZZ_CXX ?= clang++
FUZZ_BUILD := $(BUILD)/fuzz
FUZZ_FLAGS := -O1 -g -std=c++20 -Isrc -Ithird_party -Itests/fuzz -MMD -MP \
              -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_NAMES := $(patsubst tests/fuzz/%_fuzz.cc,%,$(wildcard tests/fuzz/*_fuzz.cc))
FUZZ_LIB_OBJS := $(LIB_SRCS:%.cc=$(FUZZ_BUILD)/obj/%.o)
# Objects of a pattern chain are kept (make would delete them as intermediate).
.SECONDARY: $(FUZZ_LIB_OBJS) $(FUZZ_NAMES:%=$(FUZZ_BUILD)/obj/tests/fuzz/%_fuzz.o)

$(FUZZ_BUILD)/obj/%.o: %.cc | $(DEPS_OK)
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -c $< -o $@

$(FUZZ_BUILD)/%_fuzz: $(FUZZ_BUILD)/obj/tests/fuzz/%_fuzz.o $(FUZZ_LIB_OBJS)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ -ldw -lelf -lz $(ABSL_LIBS) -pthread

fuzz: $(DEPS_OK)
	@scripts/install-deps --fuzz
	@$(MAKE) --no-print-directory -j$$(nproc) $(FUZZ_NAMES:%=$(FUZZ_BUILD)/%_fuzz)
	scripts/run-fuzzers $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_NAMES)

# Regenerates third_party/cpython/ from the interpreters on this machine.
layouts:
	scripts/gen-layouts third_party/cpython

# Fails when an interpreter present here disagrees with the committed layout tables or with the
# committed table of printable characters (str reprs).
check-layouts:
	scripts/gen-layouts --check third_party/cpython
	scripts/gen-unicode-printable --check

# --- install (make install PREFIX=/usr/local DESTDIR=): the binary, the man page, completions ---
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
BASH_COMPLETION_DIR ?= $(PREFIX)/share/bash-completion/completions
ZSH_COMPLETION_DIR  ?= $(PREFIX)/share/zsh/site-functions
INSTALLED_FILES = $(DESTDIR)$(BINDIR)/pystack-dump $(DESTDIR)$(MANDIR)/man1/pystack-dump.1 \
                  $(DESTDIR)$(BASH_COMPLETION_DIR)/pystack-dump $(DESTDIR)$(ZSH_COMPLETION_DIR)/_pystack-dump

install: $(BUILD)/pystack-dump doc/pystack-dump.1 completion/pystack-dump.bash completion/_pystack-dump
	install -D -m 0755 $(BUILD)/pystack-dump "$(DESTDIR)$(BINDIR)/pystack-dump"
	install -D -m 0644 doc/pystack-dump.1 "$(DESTDIR)$(MANDIR)/man1/pystack-dump.1"
	install -D -m 0644 completion/pystack-dump.bash "$(DESTDIR)$(BASH_COMPLETION_DIR)/pystack-dump"
	install -D -m 0644 completion/_pystack-dump "$(DESTDIR)$(ZSH_COMPLETION_DIR)/_pystack-dump"

# Removes the four files only: the directories may hold other programs' files.
uninstall:
	rm -f $(foreach f,$(INSTALLED_FILES),"$(f)")
# --- end install ---

# --- static (make static: build/pystack-dump-static, no shared library at all) ---
# The objects of $(BUILD)/pystack-dump, linked again with -static: glibc, libdw, libelf and the
# compression libraries libdw reads ELF sections with (pkg-config --static: zlib, libbz2,
# liblzma), all from Debian's .a files. It runs where there is no loader and no library (a
# busybox container) or another glibc. Without the DWARF of -g (--strip-debug): 6 MB, not 48.
#
# libdw 0.188 dlopen()s libdebuginfod.so.1 whenever --native finds no local debug file for a
# library, DEBUGINFOD_URLS or not; that brings ~30 libraries and their libc.so.6 into the
# process, and where that libc is another glibc than the static one (Debian unstable's root)
# the tool dies of SIGSEGV. Debuginfod is never asked anyway: here libdw's dlopen (no other
# object calls it) is one that finds nothing (src/static/no_dlopen.cc).
STATIC_LIBS = $(shell pkg-config --static --libs libdw 2>/dev/null) $(ABSL_LIBS) -pthread
static: $(BUILD)/pystack-dump-static
$(BUILD)/pystack-dump-static: $(CLI_OBJS) $(BUILD)/libpystack.a $(BUILD)/obj/src/static/no_dlopen.o
	$(CXX) $(CXXFLAGS) -static -Wl,--strip-debug -Wl,--wrap=dlopen -o $@ $^ $(STATIC_LIBS)
# --- end static ---

# --- deb (make deb: build/pystack-dump_VERSION_amd64.deb) ---
# The Debian package of $(BUILD)/pystack-dump, its man page and completions, built by dpkg's own
# tools (scripts/make-deb, packaging/debian/). VERSION is kToolVersion, read from the source.
DEB_VERSION := $(shell sed -n 's/.*char kToolVersion\[\] = "\(.*\)";/\1/p' src/cli/options.h)
DEB := $(BUILD)/pystack-dump_$(DEB_VERSION)_amd64.deb
deb: $(DEB)
$(DEB): $(BUILD)/pystack-dump scripts/make-deb Makefile src/cli/options.h \
        $(wildcard packaging/debian/* doc/pystack-dump.1 completion/*) | $(DEPS_OK)
	@scripts/make-deb $(BUILD) >/dev/null
	@echo "deb: $@"
# --- end deb ---

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
