/*
 * vectors_shim.h: the whole contract between the C shim and Swift.
 *
 * The shim (the C files in CShims) owns everything that touches PostgreSQL: fmgr
 * calling conventions, detoasting, palloc, ereport. Swift owns parsing,
 * formatting and the math. Functions declared here are implemented in
 * Swift (Sources/VectorsExtension, via @_cdecl) and called from C.
 *
 * Error rule (docs/ARCHITECTURE.md): Swift never raises a PostgreSQL error.
 * A Swift function that can fail returns a VectorsStatus and fills a
 * VectorsError; the C caller turns that into ereport(ERROR) after Swift has
 * returned, so no longjmp ever crosses a Swift frame.
 *
 * No PostgreSQL types appear here: sizes are plain C integer types.
 */
#ifndef VECTORS_SHIM_H
#define VECTORS_SHIM_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE				/* mremap, before any system header */
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/mman.h>

#include "vectors_limits.h"

typedef enum VectorsStatus
{
	VECTORS_OK = 0,
	VECTORS_ERROR_SYNTAX = 1,		/* SQLSTATE 22P02 invalid_text_representation */
	VECTORS_ERROR_OUT_OF_RANGE = 2, /* SQLSTATE 22003 numeric_value_out_of_range */
	VECTORS_ERROR_OUT_OF_MEMORY = 3,	/* SQLSTATE 53200 out_of_memory */
	VECTORS_ERROR_POSTGRES = 4,	/* a PostgreSQL ERROR, saved by the shim; the C
								 * caller re-throws it after Swift returned */
	VECTORS_INTERRUPTED = 5,	/* Swift stopped because an interrupt is pending;
								 * the caller runs CHECK_FOR_INTERRUPTS() */
	VECTORS_ERROR_INTERNAL = 6	/* SQLSTATE XX000 internal_error: a broken
								 * contract or an unexpected Swift error (a bug,
								 * reported instead of a trap) */
} VectorsStatus;

#define VECTORS_ERROR_TEXT 512

/* A failure reported by Swift: NUL-terminated, UTF-8, possibly truncated. */
typedef struct VectorsError
{
	char		message[VECTORS_ERROR_TEXT];
	char		detail[VECTORS_ERROR_TEXT];
} VectorsError;

/* ---- text I/O ---------------------------------------------------------- */

/*
 * Parses a vector literal of `length` bytes (need not be NUL-terminated).
 * On success stores a malloc'ed array of *dimensions floats in *elements
 * (release it with vectors_free) and returns VECTORS_OK.
 */
VectorsStatus vectors_parse(const char *text, size_t length,
							float **elements, int32_t *dimensions,
							VectorsError *error);

/* Releases memory that Swift allocated and handed to C. */
void		vectors_free(void *pointer);

/* Upper bound of the text length of a vector, terminating NUL included. */
size_t		vectors_format_capacity(int32_t dimensions);

/*
 * Writes the text form ("[1,2.5]") of a vector into `buffer`, which holds
 * vectors_format_capacity(dimensions) bytes; NUL-terminates it and returns
 * the length without the NUL.
 */
size_t		vectors_format(const float *elements, int32_t dimensions, char *buffer);

/* ---- math (inputs finite, dimensions already checked equal) ------------ */

float		vectors_l2_squared(const float *a, const float *b, int32_t dimensions);
float		vectors_dot(const float *a, const float *b, int32_t dimensions);
float		vectors_cosine_distance(const float *a, const float *b, int32_t dimensions);
double		vectors_norm(const float *a, int32_t dimensions);
void		vectors_normalize(const float *a, int32_t dimensions, float *result);

typedef enum VectorsElementwise
{
	VECTORS_ADD = 0,
	VECTORS_SUBTRACT = 1,
	VECTORS_MULTIPLY = 2
} VectorsElementwise;

/* result = a op b; returns false if an element overflowed to infinity. */
bool		vectors_elementwise(VectorsElementwise operation, const float *a,
								const float *b, int32_t dimensions, float *result);

/* state[i] += a[i] (double precision running sum for aggregates). */
void		vectors_accumulate(double *state, const float *a, int32_t dimensions);

/* Btree order: -1, 0, 1. Shorter prefix sorts first. */
int32_t		vectors_compare(const float *a, int32_t dimensions_a,
							const float *b, int32_t dimensions_b);

/* Hash consistent with vectors_compare (-0.0 hashes like 0.0). */
uint64_t	vectors_hash(const float *a, int32_t dimensions, uint64_t seed);

/* Which kernel family is in use ("baseline", "avx2", "avx512"); static string. */
const char *vectors_kernel_name(void);

/* ---- HNSW index ---------------------------------------------------------- */

/* Distance metrics of the index operator classes (smaller is closer). */
typedef enum VectorsMetric
{
	VECTORS_METRIC_L2 = 0,		/* <->, squared Euclidean */
	VECTORS_METRIC_DOT = 1,		/* <#>, negative inner product */
	VECTORS_METRIC_COSINE = 2	/* <=>, stored as unit vectors, 1 - a.b */
} VectorsMetric;

/* A graph node: (block << 16) | offset of its element tuple. 0 is never a
 * node (block 0 is the metapage) and means "none". */
typedef uint64_t VectorsNode;

/* What Swift needs to know about an index. */
typedef struct VectorsIndexInfo
{
	int32_t		dimensions;
	int32_t		metric;			/* VectorsMetric */
	int32_t		m;
	int32_t		ef_construction;
} VectorsIndexInfo;

/* The shim's per-operation state (relation, saved error); opaque to Swift. */
typedef struct VectorsIndexHandle VectorsIndexHandle;

/*
 * Page storage: implemented in C, called by Swift's graph code. Each runs
 * its PostgreSQL work under PG_TRY; on an ERROR it saves the error in the
 * handle and returns VECTORS_ERROR_POSTGRES, and Swift unwinds without
 * calling the shim again.
 */
VectorsStatus vectors_page_entry(VectorsIndexHandle *handle, VectorsNode *node, int32_t *level);
VectorsStatus vectors_page_visit(VectorsIndexHandle *handle, VectorsNode node, const float *query,
								 float *distance, bool *live, uint64_t *heap_tid);
VectorsStatus vectors_page_level(VectorsIndexHandle *handle, VectorsNode node, int32_t *level);
VectorsStatus vectors_page_vector(VectorsIndexHandle *handle, VectorsNode node, float *out);
/* `pinned` (may be NULL) receives, for each neighbour, whether its link is
 * pinned (hnsw.h: never dropped by pruning; layer 0 only). */
VectorsStatus vectors_page_neighbors(VectorsIndexHandle *handle, VectorsNode node, int32_t level,
									 VectorsNode *out, uint8_t *pinned, int32_t capacity, int32_t *count);
/* Asks the CPU to start loading what visiting these nodes will touch (buffer
 * headers, page headers, tuples) so the cache misses overlap instead of
 * coming one after another. Only a hint: never fails, reads no new pages. */
void vectors_page_prefetch(VectorsIndexHandle *handle, const VectorsNode *nodes, int32_t count);
VectorsStatus vectors_page_set_neighbors(VectorsIndexHandle *handle, VectorsNode node, int32_t level,
										 const VectorsNode *neighbors, int32_t count);
/* Pins the layer-0 link from `node` to `target`; *pinned is false if
 * `node`'s list does not hold `target`. A list keeps a target's pin when
 * vectors_page_set_neighbors rewrites it with that target in it. */
VectorsStatus vectors_page_pin(VectorsIndexHandle *handle, VectorsNode node, VectorsNode target, bool *pinned);
VectorsStatus vectors_page_set_entry(VectorsIndexHandle *handle, VectorsNode node, int32_t level);
VectorsStatus vectors_page_check_interrupts(VectorsIndexHandle *handle);

/* Graph algorithms: implemented in Swift, called by the shim. */

/* Writes the stored form of a vector (unit length for cosine) to `out`.
 * Returns false for a zero vector under cosine (it has no direction), and
 * for a metric outside VectorsMetric (the shim never passes one: it checks
 * every metric it reads). */
bool		vectors_prepare(int32_t metric, const float *vector, int32_t dimensions, float *out);

/* Distance between two prepared vectors under `metric` (NaN for a metric
 * outside VectorsMetric). */
float		vectors_distance(int32_t metric, const float *a, const float *b, int32_t dimensions);

/* A random HNSW level for a new node (geometric, P(level >= l) = m^-l). */
int32_t		vectors_random_level(int32_t m);

/*
 * Parses index options in pgvecto.rs's TOML form:
 *     [indexing.hnsw]
 *     m = 16
 *     ef_construction = 300
 * Keys present are stored in *m / *ef_construction / *build_threads
 * ([optimizing] optimizing_threads; others untouched);
 * unknown tables or keys and out-of-range values are errors.
 */
VectorsStatus vectors_parse_index_options(const char *text, int32_t *m, int32_t *ef_construction,
										  int32_t *build_threads, VectorsError *error);

/* Links `node`, already stored with empty neighbour lists, into the graph. */
VectorsStatus vectors_hnsw_insert(VectorsIndexHandle *handle, const VectorsIndexInfo *info,
								  VectorsNode node, const float *vector, int32_t level,
								  VectorsError *error);

/*
 * A streaming search (Sources/HNSW/SearchStream.swift): phase 1 is the
 * usual search of breadth `ef`; with `continues` (vbase mode) the stream
 * goes on past it until the graph is exhausted or its state reaches
 * `memory_limit` bytes. A stream is a Swift object: free it with
 * vectors_stream_free (also on error, via a memory-context callback).
 */
typedef struct VectorsStream VectorsStream;

VectorsStream *vectors_stream_new(VectorsIndexHandle *handle, const VectorsIndexInfo *info,
								  const float *query, int32_t ef, bool continues, size_t memory_limit);
/* The next row: *found is false at the end of the stream. A stream that
 * could not be set up (an unknown metric in `info`) fails here. */
VectorsStatus vectors_stream_next(VectorsStream *stream, uint64_t *heap_tid, float *distance,
								  bool *found, VectorsError *error);
void		vectors_stream_free(VectorsStream *stream);

/* Rebuilds the neighbour lists of `node` that point at deleted nodes. */
VectorsStatus vectors_hnsw_repair(VectorsIndexHandle *handle, const VectorsIndexInfo *info,
								  VectorsNode node, bool (*is_deleted) (void *context, VectorsNode node),
								  void *context, bool *changed, VectorsError *error);

/* Gives an unreachable live node an incoming link from its nearest reachable node. */
VectorsStatus vectors_hnsw_reconnect(VectorsIndexHandle *handle, const VectorsIndexInfo *info,
									 VectorsNode node, VectorsError *error);

/*
 * In-memory build. A builder is a Swift object; C must release it with
 * vectors_build_free, also when the build fails (memory-context callback).
 * Nodes are numbered 0..count-1 in the order they were added.
 *
 * Its large arrays (vectors, neighbour lists, levels, heap TIDs) get memory
 * that may be refused: then the call returns VECTORS_ERROR_OUT_OF_MEMORY
 * with the size in the message, and the builder can still be freed.
 */
typedef struct VectorsBuilder VectorsBuilder;

/* Stores a new builder in *builder (VECTORS_ERROR_INTERNAL for a metric
 * outside VectorsMetric). */
VectorsStatus vectors_build_new(const VectorsIndexInfo *info, VectorsBuilder **builder, VectorsError *error);
void		vectors_build_free(VectorsBuilder *builder);
/* Adds a prepared vector (linked later by vectors_build_link). */
VectorsStatus vectors_build_add(VectorsBuilder *builder, const float *vector, uint64_t heap_tid,
								VectorsError *error);
/*
 * Links every added vector into the graph: pure computation on `threads`
 * threads (the caller's among them; the others never call PostgreSQL and run
 * with signals blocked). Polls `interrupted` on the calling thread and
 * returns VECTORS_INTERRUPTED when it says so; calling again resumes. A
 * failure on any thread stops them all and is this call's status.
 */
VectorsStatus vectors_build_link(VectorsBuilder *builder, int32_t threads, bool (*interrupted) (void),
								 VectorsError *error);
size_t		vectors_build_memory(const VectorsBuilder *builder);
int64_t		vectors_build_count(const VectorsBuilder *builder);
int32_t		vectors_build_level(const VectorsBuilder *builder, int64_t node);
uint64_t	vectors_build_heap_tid(const VectorsBuilder *builder, int64_t node);
const float *vectors_build_vector(const VectorsBuilder *builder, int64_t node);
/* Copies node's neighbours on `level` (node numbers) into `out` (capacity 2m); returns the count.
 * A pinned layer-0 link has VECTORS_BUILD_PINNED set in its node number. */
#define VECTORS_BUILD_PINNED	0x4000000000000000LL
int32_t		vectors_build_neighbors(const VectorsBuilder *builder, int64_t node, int32_t level, int64_t *out);
/* The entry node (or -1 when empty) and its level. */
int64_t		vectors_build_entry(const VectorsBuilder *builder, int32_t *level);

/*
 * Asks the CPU to start loading `lines` cache lines from `address` (a hint:
 * no fault, no effect on results). Swift has no prefetch of its own; the
 * in-memory build graph uses this to overlap the misses on a node's
 * neighbours' vectors.
 */
static inline void
vectors_prefetch_lines(const void *address, int lines)
{
	for (int i = 0; i < lines; i++)
		__builtin_prefetch((const char *) address + 64 * i);
}

/*
 * Large in-memory build arrays (HNSW MemoryGraph): anonymous mappings that
 * start on a 2 MiB boundary and are marked for transparent huge pages.
 * Growing moves the pages with mremap to a new aligned range (page tables
 * move, data is not copied; an unaligned destination would split the huge
 * pages). NULL when the kernel refuses.
 */
#define VECTORS_HUGE_PAGE		(2 << 20)

static inline void *
vectors_huge_map(size_t bytes)
{
	char	   *p = mmap(NULL, bytes + VECTORS_HUGE_PAGE, PROT_READ | PROT_WRITE,
						 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char	   *aligned;

	if (p == MAP_FAILED)
		return NULL;
	aligned = (char *) (((uintptr_t) p + VECTORS_HUGE_PAGE - 1) & ~(uintptr_t) (VECTORS_HUGE_PAGE - 1));
	if (aligned > p)
		munmap(p, aligned - p);
	munmap(aligned + bytes, (p + bytes + VECTORS_HUGE_PAGE) - (aligned + bytes));
	(void) madvise(aligned, bytes, MADV_HUGEPAGE);
	return aligned;
}

static inline void *
vectors_huge_remap(void *old, size_t old_bytes, size_t new_bytes)
{
	void	   *target = vectors_huge_map(new_bytes);
	void	   *p;

	if (target == NULL)
		return NULL;
	p = mremap(old, old_bytes, new_bytes, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	if (p == MAP_FAILED)
	{
		munmap(target, new_bytes);
		return NULL;
	}
	return p;
}

#endif							/* VECTORS_SHIM_H */
