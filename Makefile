# Thin wrapper around CMake so that the README's commands stay short.
#   make          build revenant (build/revenant)
#   make demo     install what is needed (Ghost too), build, and run the DR
#                 drill (scripts/demo.sh: a real Ghost killed mid-write, brought
#                 back from the store; prints RPO and RTO; non-zero on failure);
#                 RV_DRILL_DB=mariadb make demo: the same with Ghost on MariaDB
#   make test     install what is needed, then lint, build and run every test,
#                 then the unit tests and chosen integration tests under ASan+UBSan
#   make test-under-load   the same while a CPU hog keeps every core busy
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all build deps demo test test-fast test-asan test-under-load format format-check clean

all: build

build:
	cmake -S . -B $(BUILD) -DRV_WERROR=ON $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

deps:
	bash scripts/deps.sh

demo: deps build
	bash scripts/demo.sh $(BUILD)/revenant

# The README's test command; .ci/run calls exactly this.
test: deps format-check build
	bash tests/lib/prepare.sh
	bash tests/lib/ctest_run.sh $(BUILD) -j 2
	$(MAKE) test-asan

test-fast: build
	ctest --test-dir $(BUILD) --output-on-failure -j 2 -L unit

# The sanitizer pass: unit tests, fuzz replays and the integration tests
# labelled `asan` (tests/CMakeLists.txt says why each one is there).
test-asan:
	cmake -S . -B $(ASAN_BUILD) -DRV_WERROR=ON -DRV_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		bash tests/lib/ctest_run.sh $(ASAN_BUILD) -j 2 -L asan

# `make test` while a CPU hog keeps both cores busy: the suite must not
# depend on the machine's speed (tests/lib/under_load.sh).
test-under-load:
	bash tests/lib/under_load.sh $(MAKE) test

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@bad=$$(git ls-files '*.c' '*.h' | xargs clang-format --dry-run 2>&1 | grep -c 'warning:' || true); \
	if [ "$$bad" != "0" ]; then \
		git ls-files '*.c' '*.h' | xargs clang-format --dry-run 2>&1 | grep 'warning:' | cut -d: -f1 | sort -u; \
		echo "clang-format: the files above need 'make format'"; exit 1; fi

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
