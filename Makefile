# Thin wrapper around CMake: `make run` and `make test` are the whole quick start.
# Everything is built by CMake presets (CMakePresets.json); this file only
# installs what is missing, picks the preset and runs it.

DEB_PACKAGES := cmake make gcc pkg-config libuv1-dev libncurses-dev libcmocka-dev \
                libssl-dev libpcap-dev \
                tmux python3 socat netcat-openbsd procps iproute2 \
                openssl curl tcpdump libcap2-bin \
                man-db groff-base
# Optional: clang builds the libFuzzer targets (`make fuzz`); the seed corpora
# are replayed by ordinary tests either way.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_FLAGS ?= --output-on-failure -j$(JOBS)
# `make install` puts the binary, the man page and the shell completions
# under PREFIX (DESTDIR, if set, is put in front of it, as for packaging).
PREFIX ?= /usr/local

.PHONY: all deps build build-asan run test test-release test-asan bench bench-wire fuzz format clean screenshots \
        install deb

all: build

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "Missing Debian packages. Install them with:"; \
	    echo "  sudo apt-get update && sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j$(JOBS)

build-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j$(JOBS)

run: build
	./build/release/sockpit --demo

test-release: build
	cd build/release && ctest $(CTEST_FLAGS)

test-asan: build-asan
	cd build/asan && ctest $(CTEST_FLAGS) -LE noasan

test: test-release test-asan

install: build
	cmake --install build/release --prefix $(PREFIX)

# A Debian package of the same files (installed under /usr), in build/release.
deb: build
	cd build/release && cpack -G DEB && dpkg-deb --info sockpit_*.deb

bench: build
	tests/bench/run.sh build/release/sockpit

# The wire view's cost per segment against the sockets watched (root).
bench-wire: build
	python3 tests/bench/wire_scale.py build/release/sockpit

fuzz: deps
	@command -v clang >/dev/null || { echo "make fuzz needs clang: apt-get install -y clang"; exit 1; }
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j$(JOBS)
	tests/fuzz/run.sh build/fuzz $${FUZZ_SECONDS:-30}

screenshots: build
	tests/tui/screenshots.sh build/release/sockpit screenshots

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
