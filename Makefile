# ngx_http_mtasts_module: build against Debian's nginx (nginx-dev), test, demo.
#
#   make          build build/ngx_http_mtasts_module.so
#   make test     build (gcc and clang, -Werror) and run the test suite
#   make demo     build and run nginx in the foreground with examples/
#
# Run as root, missing Debian packages are installed first.

MODULE   = ngx_http_mtasts_module
BUILD    = build
NGX_SRC  = /usr/share/nginx/src
CC_OPT   = -g -O2 -fPIC -Werror -Wall -Wextra -Wno-unused-parameter
LD_OPT   = -fPIC

BUILD_PKGS = nginx-core nginx-dev libssl-dev libpcre2-dev zlib1g-dev \
             libidn2-dev libpsl-dev libc-ares-dev make gcc
TEST_PKGS  = clang perl curl openssl iproute2 nsd postfix-mta-sts-resolver \
             libnet-dns-perl libio-socket-ssl-perl procps
DEMO_PKGS  = openssl curl

SOURCES  = config $(MODULE).c $(wildcard src/*.c src/*.h)

.PHONY: all deps test-deps test prove clang demo clean deb

all: $(BUILD)/$(MODULE).so

# Install what is missing, and only that; without root, say what is missing.
deps:
	@sh tools/need-packages $(BUILD_PKGS)

test-deps:
	@sh tools/need-packages $(BUILD_PKGS) $(TEST_PKGS)

$(BUILD)/$(MODULE).so: $(SOURCES) | deps
	@bash tools/build-module $(BUILD)/gcc gcc "$(CC_OPT)" "$(LD_OPT)"
	@# a new file, never rewritten in place: a running nginx maps it
	cp $(BUILD)/gcc/objs/$(MODULE).so $@.tmp && mv -f $@.tmp $@

# the same sources must build warning-free with clang
clang: $(SOURCES) | test-deps
	@bash tools/build-module $(BUILD)/clang clang "$(CC_OPT)" "$(LD_OPT)"

test: test-deps all clang prove

prove:
	prove -I t/lib t/

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
           libidn2-dev libpsl-dev libc-ares-dev lintian

deb:
	@sh tools/need-packages $(DEB_PKGS)
	rm -rf $(DEB)
	mkdir -p $(DEB)/src
	{ git ls-files -z -co --exclude-standard 2>/dev/null || \
	  find . -path ./build -prune -o -path ./.git -prune -o -type f -print0; } \
	| tar --null --no-recursion --ignore-failed-read -T - -cf - \
	| tar -xf - -C $(DEB)/src
	cd $(DEB)/src && dpkg-buildpackage -us -uc -b
	lintian $(DEB)/*.changes
	@ls $(DEB)/*.deb
