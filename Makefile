# R2 build, test and demo targets. `make test` is what CI runs.
GO      ?= go
BIN     ?= bin
MODULE  := github.com/r2go/r2
THRIFT  ?= thrift
CMDS    := r2 utils/r2intf utils/r2rt utils/r2log utils/r2cnt utils/r2exporter utils/r2bench

.PHONY: all build deps test vet fmt-check apis bench demo demo-stop clean

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
test: deps fmt-check vet
	$(GO) test -race -count=1 -timeout 20m ./...

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./fwd/ ./gnodes/... ./r2/...

apis:
	bash apis/gen.sh

demo: build
	bash r2/demo/demo.sh start

demo-stop:
	bash r2/demo/demo.sh stop

clean:
	rm -rf $(BIN)
