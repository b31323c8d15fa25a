# R2 build, test and demo targets. `make test` is what CI runs.
GO      ?= go
BIN     ?= bin
MODULE  := github.com/r2go/r2
THRIFT  ?= thrift
CMDS    := r2 utils/r2intf utils/r2rt utils/r2follow utils/r2log utils/r2cnt utils/r2top utils/r2cap utils/r2graph utils/r2exporter utils/r2bench
# make install: the daemon and the operator's utilities, the example
# configuration (kept if /etc/r2.cfg exists) and the systemd units.
PREFIX  ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL_CMDS := r2 utils/r2intf utils/r2rt utils/r2follow utils/r2log utils/r2cnt utils/r2top utils/r2cap utils/r2graph utils/r2exporter
UNITS   := r2@.service r2-exporter@.service r2-follow@.service
VERSION ?= 0.1.0

.PHONY: all build deps test vet fmt-check apis bench demo demo-stop clean install deb

all: build

build:
	@mkdir -p $(BIN)
	@for c in $(CMDS); do \
		if [ -d $$c ]; then $(GO) build -o $(BIN)/$$(basename $$c) ./$$c || exit 1; fi; \
	done

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go') | grep -v '^apis/' || true); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The Debian packages the tests use, installed if missing (needs root then).
deps:
	@bash .ci/deps

# The tests need root (namespaces, veth, AF_PACKET); CI runs as root.
# -p 1: one package at a time, so the end-to-end tests (traffic through
# namespaces, r2bench's floods, BIRD, Prometheus) do not starve each other
# of the machine's CPUs; the unit-test packages take seconds each.
test: deps fmt-check vet
	$(GO) test -race -count=1 -p 1 -timeout 40m ./...

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./fwd/ ./gnodes/... ./r2/...

apis:
	bash apis/gen.sh

demo: build
	bash r2/demo/demo.sh start

demo-stop:
	bash r2/demo/demo.sh stop

install:
	@$(MAKE) --no-print-directory build CMDS='$(INSTALL_CMDS)'
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)
	for c in $(INSTALL_CMDS); do b=$$(basename $$c); install -m 0755 $(BIN)/$$b $(DESTDIR)$(PREFIX)/bin/$$b || exit 1; done
	for u in $(UNITS); do \
		sed -e 's#@BINDIR@#$(PREFIX)/bin#g' -e 's#@SYSCONFDIR@#$(SYSCONFDIR)#g' utils/packaging/$$u > $(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/r2.cfg ]; then \
		echo "$(DESTDIR)$(SYSCONFDIR)/r2.cfg exists: kept"; \
	else \
		install -m 0644 utils/packaging/r2.cfg.example $(DESTDIR)$(SYSCONFDIR)/r2.cfg; \
	fi

# A Debian package in $(BIN)/, built with nfpm (a Go library: no tool to
# install); utils/packaging/mkdeb is a module of its own.
deb:
	@mkdir -p $(BIN)
	cd utils/packaging/mkdeb && $(GO) run . -root ../../.. -version $(VERSION) -out $(abspath $(BIN))

clean:
	rm -rf $(BIN)
