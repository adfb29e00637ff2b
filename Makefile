# ngx_http_mtasts_module: build against Debian's nginx (nginx-dev), test, demo.
#
#   make          build build/ngx_http_mtasts_module.so
#   make test     build (gcc and clang, -Werror) and run the test suite,
#                 then again with the module under ASan and UBSan
#   make test SANITIZE=1   the suite with the module under ASan and UBSan
#   make test VALGRIND=1   the suite with nginx under valgrind memcheck
#   make fuzz     build the libFuzzer targets of fuzz/ and run each for
#                 FUZZ_TIME seconds (make fuzz FUZZ_TIME=600)
#   make demo     build and run nginx in the foreground with examples/
#
# Run as root, missing Debian packages are installed first.

MODULE   = ngx_http_mtasts_module
BUILD    = build
NGX_SRC  = /usr/share/nginx/src
CC_OPT   = -g -O2 -fPIC -Werror -Wall -Wextra -Wno-unused-parameter
LD_OPT   = -fPIC

BUILD_PKGS = nginx-core nginx-dev libssl-dev libpcre2-dev zlib1g-dev \
             libidn2-dev libpsl-dev libc-ares-dev libjson-c-dev libldns-dev \
             make gcc
TEST_PKGS  = clang perl curl openssl iproute2 nsd postfix-mta-sts-resolver \
             libnet-dns-perl libio-socket-ssl-perl procps libclang-rt-14-dev \
             wrk strace bind9 bind9-utils bind9-dnsutils knot postfix \
             unbound ldnsutils
DEMO_PKGS  = openssl curl nsd

SOURCES  = config $(MODULE).c $(wildcard src/*.h src/*/*.c src/*/*.h)

.PHONY: all deps test-deps test prove clang demo clean deb \
        asan test-sanitize fuzz bench

all: $(BUILD)/$(MODULE).so

# Install what is missing, and only that; without root, say what is missing.
deps:
	@sh tools/need-packages $(BUILD_PKGS)

test-deps:
	@sh tools/need-packages $(BUILD_PKGS) $(TEST_PKGS)
	@sh tools/need-node t/npm

$(BUILD)/$(MODULE).so: $(SOURCES) | deps
	@bash tools/build-module $(BUILD)/gcc gcc "$(CC_OPT)" "$(LD_OPT)"
	@# a new file, never rewritten in place: a running nginx maps it
	cp $(BUILD)/gcc/objs/$(MODULE).so $@.tmp && mv -f $@.tmp $@

# the same sources must build warning-free with clang
clang: $(SOURCES) | test-deps
	@bash tools/build-module $(BUILD)/clang clang "$(CC_OPT)" "$(LD_OPT)"

ifeq ($(SANITIZE),1)
test: test-deps asan
	$(ASAN_ENV) prove -I t/lib t/
else ifeq ($(VALGRIND),1)
test: test-deps all
	@sh tools/need-packages valgrind
	TEST_NGINX_VALGRIND=1 prove -I t/lib t/
else
test: test-deps all clang prove
	@$(MAKE) --no-print-directory test-sanitize
endif

prove:
	prove -I t/lib t/

# The module with AddressSanitizer and UndefinedBehaviorSanitizer (clang,
# shared runtime), for Debian's nginx with that runtime preloaded, see
# t/lib/Test/Nginx.pm.  test-sanitize: the suite once more so, less the
# tests that do not start the harness's nginx (they would run the same).
ASAN     = $(BUILD)/asan
ASAN_RT  = $$(clang -print-file-name=libclang_rt.asan-x86_64.so)
ASAN_SAN = -fsanitize=address,undefined -shared-libasan \
           -fsanitize-address-use-odr-indicator
ASAN_OPT = -g -O1 -fPIC -fno-omit-frame-pointer $(ASAN_SAN)
ASAN_LD  = -fPIC $(ASAN_SAN) -Wl,-rpath,$$(clang --print-runtime-dir)
ASAN_ENV = TEST_NGINX_SANITIZE=1 TEST_NGINX_ASAN_LIB=$(ASAN_RT) \
           TEST_NGINX_MODULE=$(CURDIR)/$(ASAN)/objs/$(MODULE).so
SANITIZE_SKIP = t/package.t t/unit.t t/fuzz.t t/demo.t

# (configured anew when the flags change; configure runs its test
# programs with the runtime: no leak reports)
asan: | test-deps
	@echo '$(ASAN_OPT) $(ASAN_LD)' | cmp -s - $(ASAN).flags \
	 || { rm -rf $(ASAN); echo '$(ASAN_OPT) $(ASAN_LD)' > $(ASAN).flags; }
	@ASAN_OPTIONS=detect_leaks=0 \
	 bash tools/build-module $(ASAN) clang "$(ASAN_OPT)" "$(ASAN_LD)"

test-sanitize: test-deps asan
	$(ASAN_ENV) prove -I t/lib $(filter-out $(SANITIZE_SKIP),$(wildcard t/*.t))

# libFuzzer targets (fuzz/README), built with clang into $(BUILD)/fuzz
FUZZ_TIME = 10

fuzz: | deps
	@sh tools/need-packages clang libclang-rt-14-dev
	@bash tools/fuzz build $(BUILD)/fuzz
	@bash tools/fuzz run $(BUILD)/fuzz $(FUZZ_TIME)

demo: all
	@sh tools/need-packages $(DEMO_PKGS)
	@sh tools/demo

clean:
	rm -rf $(BUILD)

# The Debian package libnginx-mod-http-mta-sts (debian/): dpkg-buildpackage
# runs in a copy of the tree, $(DEB)/src (tracked and untracked files, not
# the ignored ones), so that its by-products stay out of the repository;
# the .deb ends in $(DEB)/.  DEB_PKGS: the Build-Depends of debian/control
# as installable packages, and lintian.
DEB      = $(BUILD)/deb
DEB_PKGS = dpkg-dev debhelper nginx-dev libssl-dev libpcre2-dev zlib1g-dev \
           libidn2-dev libpsl-dev libc-ares-dev libjson-c-dev libldns-dev \
           lintian

deb:
	@sh tools/need-packages $(DEB_PKGS)
	rm -rf $(DEB)
	mkdir -p $(DEB)/src
	{ git ls-files -z -co --exclude-standard 2>/dev/null || \
	  find . -path ./build -prune -o -path ./.git -prune \
	    -o -path ./t/npm/node_modules -prune -o -type f -print0; } \
	| tar --null --no-recursion --ignore-failed-read -T - -cf - \
	| tar -xf - -C $(DEB)/src
	cd $(DEB)/src && dpkg-buildpackage -us -uc -b
	lintian $(DEB)/*.changes
	@ls $(DEB)/*.deb

# make bench: the benchmarks of bench/ (about 20 minutes, on 2
# cores); results in build/bench/*.json, the table in docs/performance.md
bench: all
	@sh tools/need-packages wrk valgrind nsd dnsperf openssl curl python3 \
	    gcc util-linux procps
	@bash bench/run
