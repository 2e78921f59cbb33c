# vpnwatchd — build, test and check. `make test` is what CI runs (.ci/run).

GO        ?= go
PREFIX    ?= /usr/local
DESTDIR   ?=
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
BUILDDATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)
VPKG      := github.com/prometheus/common/version
LDFLAGS   := -X $(VPKG).Version=$(VERSION) -X $(VPKG).Revision=$(REVISION) \
             -X $(VPKG).Branch=$(BRANCH) -X $(VPKG).BuildDate=$(BUILDDATE) -X $(VPKG).BuildUser=vpnwatchd
FUZZTIME  ?= 20s
BUILDFLAGS ?= -trimpath
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Debian packages the tests use: real promtool/prometheus, Alertmanager, the
# kernel networking tools for the path-MTU probe tests, systemd-analyze for
# the unit, headless Chromium for the status page, lintian for the package.
# Real strongSwan (charon with kernel-libipsec: the test machines' kernels
# have no ESP) and FRR for the strongSwan gateway tests. rpm to inspect and
# install the RPM, skopeo to read the OCI image as an engine would.
TEST_PACKAGES := prometheus prometheus-alertmanager iproute2 nftables systemd chromium lintian \
                 strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins frr openssh-server \
                 rpm skopeo
TEST_BINARIES := /usr/bin/promtool /usr/bin/prometheus /usr/bin/prometheus-alertmanager /usr/bin/amtool /usr/sbin/ip /usr/sbin/nft /usr/bin/systemd-analyze /usr/bin/chromium /usr/bin/lintian \
                 /usr/lib/ipsec/charon /usr/sbin/swanctl /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so /usr/lib/frr/bgpd /usr/sbin/sshd \
                 /usr/bin/rpm /usr/bin/skopeo

.PHONY: all build test test-deps vet bench bench-scale bench-rss bench-latency fuzz lint install clean deb rpm image packages dist

all: build

build:
	$(GO) build $(BUILDFLAGS) -ldflags '$(LDFLAGS)' -o vpnwatchd ./cmd/vpnwatchd

# AWS_EC2_METADATA_DISABLED: no test may ever ask an instance metadata
# service; the simulators' tests set static credentials themselves.
# lint (gofmt, go vet, staticcheck) runs first: a lint failure fails the run.
# The package and image tests (cross-compiled builds, twice) run after the
# others rather than beside them: their load would only slow timed parts.
test: test-deps lint
	AWS_EC2_METADATA_DISABLED=true $(GO) test -race -count=1 -skip '^(TestPackages|TestImage)$$' ./...
	AWS_EC2_METADATA_DISABLED=true $(GO) test -count=1 -timeout 20m -run '^(TestPackages|TestImage)$$' ./deploy

# Installs what the tests need, only when something is missing and only as root.
test-deps:
	@missing=""; for b in $(TEST_BINARIES); do [ -e "$$b" ] || missing="$$missing $$b"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "missing:$$missing — install as root: apt-get install $(TEST_PACKAGES); tests that need them will skip"; exit 0; fi; \
	echo "installing $(TEST_PACKAGES) (missing:$$missing)"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEST_PACKAGES) >/dev/null

vet:
	$(GO) vet ./...

bench:
	AWS_EC2_METADATA_DISABLED=true $(GO) test -run='^$$' -bench=. -benchmem ./...

# Each seed failure injected into the simulators, timed to the notification,
# with syslog and with polling only.
bench-latency:
	AWS_EC2_METADATA_DISABLED=true $(GO) test -run='^$$' -bench=DetectionLatency -benchtime=3x -timeout 20m ./internal/daemon

# One daemon against 1,000 VPNs in 10 regions and 200 simulated routers.
bench-scale:
	AWS_EC2_METADATA_DISABLED=true $(GO) test -run='^$$' -bench=Scale -benchtime=5x -timeout 20m ./internal/daemon

# The real binary against the same simulators for DURATION seconds (180),
# RSS sampled every second, a scrape every SCRAPE seconds (15).
bench-rss:
	scripts/scale-rss.sh

# Runs every fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# The installed configuration is valid and watches nothing until edited; an
# existing one is never replaced. The documented example goes to the doc
# directory's examples/ as in the packages, with the known_hosts and
# credential examples it names (it validates where it is); the configuration
# and the unit name that directory.
DOCDIR ?= $(PREFIX)/share/doc/vpnwatchd
DOCSED := sed -e 's|/usr/share/doc/vpnwatchd|$(DOCDIR)|g'

install: build
	install -D -m 0755 vpnwatchd $(DESTDIR)$(PREFIX)/bin/vpnwatchd
	install -d -m 0755 $(DESTDIR)/etc/vpnwatchd
	install -d -m 0700 $(DESTDIR)/etc/vpnwatchd/credentials
	test -e $(DESTDIR)/etc/vpnwatchd/vpnwatchd.yaml || { $(DOCSED) configs/vpnwatchd.yaml > $(DESTDIR)/etc/vpnwatchd/vpnwatchd.yaml && \
		chmod 0644 $(DESTDIR)/etc/vpnwatchd/vpnwatchd.yaml; }
	install -D -m 0644 configs/example.yaml $(DESTDIR)$(DOCDIR)/examples/vpnwatchd.yaml
	install -m 0644 configs/known_hosts.example $(DESTDIR)$(DOCDIR)/examples/known_hosts.example
	install -d -m 0755 $(DESTDIR)$(DOCDIR)/examples/credentials
	install -m 0644 configs/credentials/* $(DESTDIR)$(DOCDIR)/examples/credentials/
	install -m 0644 deploy/systemd/probes.conf $(DESTDIR)$(DOCDIR)/examples/probes.conf
	install -d -m 0755 $(DESTDIR)/lib/systemd/system
	$(DOCSED) -e 's|/usr/bin/vpnwatchd|$(PREFIX)/bin/vpnwatchd|' deploy/systemd/vpnwatchd.service > $(DESTDIR)/lib/systemd/system/vpnwatchd.service
	chmod 0644 $(DESTDIR)/lib/systemd/system/vpnwatchd.service
	install -m 0644 deploy/systemd/vpnwatchd-syslog.socket $(DESTDIR)/lib/systemd/system/vpnwatchd-syslog.socket

clean:
	rm -rf vpnwatchd $(DIST)

# Packages and release archives, reproducible: the same commit gives the same
# bytes (times from the commit, -trimpath, no build host in the binary).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
COMMIT     := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
DEB_VERSION ?= $(shell v=$$(git describe --tags --exact-match 2>/dev/null | sed 's/^v//'); \
	if [ -n "$$v" ]; then echo "$$v"; else echo "0.0.0+git$$(date -u -d @$(SOURCE_DATE_EPOCH) +%Y%m%d%H%M%S).$(COMMIT)"; fi)
DIST       ?= dist
ARCHES     ?= amd64 arm64
REL_LDFLAGS := -X $(VPKG).Version=$(DEB_VERSION) -X $(VPKG).Revision=$(REVISION) -X $(VPKG).Branch=$(BRANCH) \
	-X $(VPKG).BuildDate=$$(date -u -d @$(SOURCE_DATE_EPOCH) +%Y%m%d-%H:%M:%S) -X $(VPKG).BuildUser=vpnwatchd -buildid= -s -w

$(DIST)/%/vpnwatchd:
	@mkdir -p $(dir $@)
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build -trimpath -buildvcs=false -ldflags "$(REL_LDFLAGS)" -o $@ ./cmd/vpnwatchd

$(DIST)/changelog.gz:
	@mkdir -p $(DIST)
	printf 'vpnwatchd (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- vpnwatchd maintainers <vpnwatchd@vpnwatchd.example.com>  %s\n' \
		"$(DEB_VERSION)" "$(COMMIT)" "$$(LC_ALL=C date -u -R -d @$(SOURCE_DATE_EPOCH))" | gzip -n -9 > $@

# The manual page: the command line's own help (kingpin --help-man), then
# EXIT STATUS, SIGNALS and FILES from packaging/vpnwatchd.1.in.
$(DIST)/vpnwatchd.1.gz: packaging/vpnwatchd.1.in
	@mkdir -p $(DIST)
	{ $(GO) run ./cmd/vpnwatchd --help-man | sed -n '/^\.SH "NAME"/,$$p' \
		| sed '1i .TH VPNWATCHD 1 "$(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%d)" "vpnwatchd $(DEB_VERSION)" "User Commands"' \
		| sed 's/^vpnwatchd$$/vpnwatchd \\- watch AWS Site-to-Site VPNs and Yamaha RTX routers/'; cat packaging/vpnwatchd.1.in; } | gzip -n -9 > $@

# make deb: vpnwatchd_VERSION_amd64.deb and _arm64.deb in dist/; make rpm:
# vpnwatchd-VERSION-1.x86_64.rpm and .aarch64.rpm. One nfpm definition for
# both (packaging/nfpm.yaml).
PKG_INPUTS := $(DIST)/changelog.gz $(DIST)/vpnwatchd.1.gz $(foreach a,$(ARCHES),$(DIST)/$(a)/vpnwatchd)
NFPM_CONFIG = sed -e "s|\$${ARCH}|$$a|g" -e "s|\$${VERSION}|$(DEB_VERSION)|g" -e "s|\$${BINARY}|$(DIST)/$$a/vpnwatchd|g" \
	-e "s|\$${CHANGELOG}|$(DIST)/changelog.gz|g" -e "s|\$${MANPAGE}|$(DIST)/vpnwatchd.1.gz|g" packaging/nfpm.yaml > $(DIST)/nfpm-$$a.yaml
NFPM = SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) tool nfpm package --config $(DIST)/nfpm-$$a.yaml

deb: $(PKG_INPUTS)
	@set -e; for a in $(ARCHES); do $(NFPM_CONFIG); \
		$(NFPM) --packager deb --target $(DIST)/vpnwatchd_$(DEB_VERSION)_$$a.deb; done

rpm: $(PKG_INPUTS)
	@set -e; for a in $(ARCHES); do $(NFPM_CONFIG); \
		case $$a in amd64) r=x86_64;; arm64) r=aarch64;; *) r=$$a;; esac; \
		$(NFPM) --packager rpm --target $(DIST)/vpnwatchd-$(DEB_VERSION)-1.$$r.rpm; done

# make image: vpnwatchd-VERSION-linux-ARCH-oci.tar, the container image of
# the same static binary, from scratch, as user 65532 (tools/ociimage: no
# container engine needed). One tar is both an OCI layout and a
# docker-archive: `docker load -i` or `podman load -i` it as
# vpnwatchd:IMAGE_TAG (the version with '+' as '-', which tags cannot hold).
IMAGE_TAG ?= $(subst +,-,$(DEB_VERSION))
image: $(foreach a,$(ARCHES),$(DIST)/$(a)/vpnwatchd)
	@set -e; for a in $(ARCHES); do \
		SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run ./tools/ociimage -binary $(DIST)/$$a/vpnwatchd -config configs/vpnwatchd.yaml \
			-arch $$a -name vpnwatchd -tag $(IMAGE_TAG) -version $(DEB_VERSION) -revision $(REVISION) \
			-o $(DIST)/vpnwatchd-$(DEB_VERSION)-linux-$$a-oci.tar; \
		echo "created image: $(DIST)/vpnwatchd-$(DEB_VERSION)-linux-$$a-oci.tar (vpnwatchd:$(IMAGE_TAG))"; done

# make packages: everything a release publishes.
packages: deb rpm dist image

# make dist: vpnwatchd-VERSION-linux-ARCH.tar.gz (binary, units, example
# config, README, LICENSE; Prometheus rules, Alertmanager example, Grafana
# dashboard and IAM policies in examples/) and SHA256SUMS.
dist: $(foreach a,$(ARCHES),$(DIST)/$(a)/vpnwatchd)
	@set -e; for a in $(ARCHES); do \
		d=vpnwatchd-$(DEB_VERSION)-linux-$$a; rm -rf $(DIST)/$$d; mkdir -p $(DIST)/$$d; \
		cp $(DIST)/$$a/vpnwatchd deploy/systemd/vpnwatchd.service deploy/systemd/vpnwatchd-syslog.socket deploy/systemd/probes.conf \
			configs/vpnwatchd.yaml configs/example.yaml README.md LICENSE $(DIST)/$$d/; \
		mkdir -p $(DIST)/$$d/examples; \
		cp deploy/prometheus/vpnwatchd-rules.yml deploy/alertmanager/alertmanager.yml deploy/grafana/vpnwatchd.json \
			deploy/aws/iam-policy.json deploy/aws/iam-policy-cloudwatch.json $(DIST)/$$d/examples/; \
		tar --sort=name --mtime=@$(SOURCE_DATE_EPOCH) --owner=0 --group=0 --numeric-owner -C $(DIST) -cf - $$d | gzip -n -9 > $(DIST)/$$d.tar.gz; \
		rm -rf $(DIST)/$$d; \
	done; cd $(DIST) && sha256sum vpnwatchd-$(DEB_VERSION)-linux-*.tar.gz > SHA256SUMS
