# Build of the `vectors` PostgreSQL extension.
#
#   make                  Swift (release, static) + C shim -> vectors.so
#   make install          install module, control file and SQL through PGXS
#   make install-imgsearch  build the imgsearch tool (release) and copy it to $(BINDIR_IMGSEARCH)
#   make demo             the README's first command: a throwaway server with real data
#   make test             the README's second command: every test (what .ci/run calls)
#   make bench-kernels    distance kernel throughput vs a scalar loop and numpy
#   make bench-hnsw       HNSW index vs pgvector on PostgreSQL 18 (HNSW_ARGS='--rows 50000' for a quick run)
#   make bench-hnsw-minilm  the same on 110,000 MiniLM 384-d embeddings (made first: ~12 min)
#   make bench-filtered   filtered search vs pgvector's iterative scans (FILTERED_ARGS='--rows 50000' for a quick run)
#   make bench-imgsearch  imgsearch indexing rate vs pure CLIP rate, search latency on 100k rows (installed extension)
#   make bench-clip       CLIP images/s and texts/s vs transformers + PyTorch, share of sgemm alone
#   make PG_CONFIG=/path/to/pg_config ...   build against another PostgreSQL
#
# The Swift code is compiled by SwiftPM into a static library and linked into
# vectors.so together with the static Swift runtime, so the installed module
# does not depend on the Swift toolchain at run time (docs/ARCHITECTURE.md).

PG_CONFIG ?= pg_config
SWIFT ?= swift

MODULE_big = vectors
OBJS = CShims/vectors.o CShims/vector_io.o CShims/vector_ops.o \
	CShims/hnsw_am.o CShims/hnsw_pages.o CShims/hnsw_build.o CShims/hnsw_insert.o \
	CShims/hnsw_scan.o CShims/hnsw_vacuum.o CShims/hnsw_check.o CShims/compat.o
MODULEDIR = extension
DATA = sql/vectors.control $(wildcard sql/vectors--*.sql)
PG_CPPFLAGS = -I$(CURDIR)/CShims -I$(CURDIR)/CShims/include
# SQL regression tests: Tests/sql/NAME.sql against Tests/expected/NAME.out.
REGRESS = vector_extension vector_type vector_input_errors vector_operators \
	vector_ordering vector_casts vector_aggregates hnsw_index hnsw_large vbase pgvecto_compat pgvector_compat
REGRESS_OPTS = --inputdir=Tests

SWIFT_SCRATCH = $(CURDIR)/.build
SWIFT_LIB = $(SWIFT_SCRATCH)/release/libVectorsExtension.a
# The toolchain's static runtime, found from the `swift` on PATH.
SWIFT_STATIC = $(shell dirname $$(dirname $$(readlink -f $$(command -v $(SWIFT)))))/lib/swift_static/linux
SHLIB_LINK = $(SWIFT_LIB) $(SWIFT_STATIC)/x86_64/swiftrt.o \
	$(SWIFT_STATIC)/libswiftCore.a $(SWIFT_STATIC)/libswiftSynchronization.a \
	-Wl,--exclude-libs,ALL -Wl,-Bsymbolic -lstdc++ -lm -ldl -lpthread

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies (unless PostgreSQL was configured with
# --enable-depend): every C file is rebuilt when a shim header changes.
$(OBJS): $(wildcard CShims/*.h CShims/include/*.h)

# SwiftPM is incremental, so asking it every time is cheap and always right.
.PHONY: swift-lib
swift-lib:
	$(SWIFT) build -c release --product VectorsExtension --scratch-path $(SWIFT_SCRATCH) \
		-Xswiftc -cross-module-optimization

$(SWIFT_LIB): swift-lib
$(shlib): $(SWIFT_LIB)

# A Swift symbol left undefined would only fail when PostgreSQL loads the
# module; catch it at build time.
all: check-symbols
.PHONY: check-symbols
check-symbols: $(shlib)
	@if nm -u $(shlib) | grep -q ' \$$s'; then \
		echo "vectors.so has undefined Swift symbols (a runtime library is not linked):"; \
		nm -u $(shlib) | grep ' \$$s' | head; rm -f $(shlib); exit 1; fi

BINDIR_IMGSEARCH ?= /usr/local/bin

.PHONY: demo test bench-kernels bench-hnsw bench-hnsw-minilm bench-filtered bench-imgsearch bench-clip install-imgsearch
install-imgsearch:
	$(SWIFT) build -c release --product imgsearch
	install -D -m 755 "$$($(SWIFT) build -c release --show-bin-path)/imgsearch" $(DESTDIR)$(BINDIR_IMGSEARCH)/imgsearch
demo:
	scripts/demo.sh
test:
	scripts/test.sh
bench-kernels:
	bench/run-kernels.sh
bench-hnsw:
	bench/run-hnsw.sh $(HNSW_ARGS)
bench-hnsw-minilm:
	bench/hnsw/minilm.sh
	BENCH_COMMAND="make bench-hnsw-minilm" bench/run-hnsw.sh --dataset minilm $(HNSW_ARGS)
bench-filtered:
	bench/run-filtered.sh $(FILTERED_ARGS)
bench-imgsearch:
	bench/imgsearch/run.sh
bench-clip:
	bench/clip/run.sh

clean: swift-clean
.PHONY: swift-clean
swift-clean:
	rm -rf results regression.diffs regression.out
