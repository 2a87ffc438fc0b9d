/*
 * hnsw.h: the `vectors` index access method's page layout and the helpers
 * shared by its phases (hnsw_build.c, hnsw_insert.c, hnsw_scan.c,
 * hnsw_vacuum.c, hnsw_pages.c, hnsw_am.c).
 *
 * Layout. Block 0 is the metapage. Every other block is an ordinary slotted
 * page holding up to three kinds of tuples:
 *
 *   element: tag, level, flags, heap TID, layer-0 neighbour count, the TID
 *            of its upper tuple, the stored vector, 2*m layer-0 neighbour
 *            slots. Fixed size for a given index.
 *   upper:   tag, level count, for each layer 1..level its neighbour count
 *            and m slots. Only nodes with level >= 1 (about 1/m of them).
 *   links:   a layer-0 list kept apart from its element: tag, count, the
 *            owning element's TID, 2*m slots. Only written by CREATE INDEX,
 *            to use room a page has left that no whole node fits in (see
 *            hnsw_build.c); its element then ends after the vector.
 *   part:    only in an index whose vectors do not fit one page with their
 *            links ("external vectors", decided at CREATE INDEX from dims
 *            and m, recorded in the metapage): tag, part number, the owning
 *            element's TID, then up to HNSW_PART_MAX_FLOATS floats of the
 *            vector. The element then holds no vector: header, 2*m layer-0
 *            slots, the parts' TIDs.
 *
 * A node is identified by its element's (block, offset); line pointers are
 * never moved (PageIndexTupleDeleteNoCompact), so node IDs stay valid until
 * VACUUM frees the element. Every read checks the tag, so a stale ID (freed,
 * then reused for another tuple) is recognised and skipped.
 *
 * Every page change after the initial build goes through GenericXLog; the
 * build writes its pages and then WAL-logs them with log_newpage_range.
 */
#ifndef VECTORS_HNSW_H
#define VECTORS_HNSW_H

#include "postgres.h"

#include "access/amapi.h"
#include "nodes/execnodes.h"
#include "access/generic_xlog.h"
#include "storage/bufmgr.h"
#include "utils/relcache.h"

#include "vector.h"

#define HNSW_MAGIC				0x56534E57	/* "VSNW" */
#define HNSW_VERSION			1
#define HNSW_METAPAGE_BLKNO		0
/* Heavyweight lock (on the metapage's number) serializing graph writers. */
#define HNSW_WRITE_LOCK			HNSW_METAPAGE_BLKNO

/* The option defaults and ranges are in vectors_limits.h (shared with Swift). */
#define HNSW_MAX_LEVEL			VECTORS_HNSW_MAX_LEVEL

#define HNSW_TAG_ELEMENT		0x45	/* 'E' */
#define HNSW_TAG_UPPER			0x55	/* 'U' */
#define HNSW_TAG_PART			0x50	/* 'P' */
#define HNSW_TAG_LINKS			0x4C	/* 'L' */

#define HNSW_ELEMENT_DELETED	0x01	/* heap row gone; still linked, never returned */
#define HNSW_ELEMENT_LINKS_APART 0x02	/* layer-0 list in the links tuple at links_tid */

typedef struct HnswMetaPageData
{
	uint32		magic;
	uint32		version;
	uint32		dimensions;
	uint16		m;
	uint16		ef_construction;
	uint8		metric;			/* VectorsMetric */
	uint8		entry_level;
	uint16		vector_parts;	/* hnsw_vector_parts when built; 0 = vectors inside elements */
	BlockNumber entry_block;	/* InvalidBlockNumber: empty graph */
	OffsetNumber entry_offset;
	BlockNumber last_block;		/* where inserts append when the FSM has nothing */
	uint32		element_size;	/* MAXALIGNed bytes of one element tuple */
} HnswMetaPageData;

typedef HnswMetaPageData *HnswMetaPage;

#define HnswPageGetMeta(page)	((HnswMetaPage) PageGetContents(page))

/* Element tuple header; the vector follows, then the layer-0 slots. */
typedef struct HnswElementHeader
{
	uint8		tag;			/* HNSW_TAG_ELEMENT */
	uint8		level;
	uint8		flags;
	uint8		reserved;
	uint16		count0;			/* used layer-0 slots */
	ItemPointerData heap_tid;
	ItemPointerData upper_tid;	/* invalid when level == 0 */
	ItemPointerData links_tid;	/* with HNSW_ELEMENT_LINKS_APART; zero otherwise */
} HnswElementHeader;

/* A layer-0 list apart from its element. */
typedef struct HnswLinksHeader
{
	uint8		tag;			/* HNSW_TAG_LINKS */
	uint8		reserved;
	uint16		count;			/* used slots */
	ItemPointerData owner;		/* the element (node ID) the list belongs to */
} HnswLinksHeader;

typedef struct HnswUpperHeader
{
	uint8		tag;			/* HNSW_TAG_UPPER */
	uint8		levels;			/* layers 1..levels follow */
	uint16		counts[FLEXIBLE_ARRAY_MEMBER];	/* then ItemPointerData slots[levels][m] */
} HnswUpperHeader;

/* A slice of an external vector: floats [index * HNSW_PART_MAX_FLOATS, ...). */
typedef struct HnswPartHeader
{
	uint8		tag;			/* HNSW_TAG_PART */
	uint8		reserved;
	uint16		index;			/* which slice of the vector */
	ItemPointerData owner;		/* the element (node ID) the part belongs to */
} HnswPartHeader;

StaticAssertDecl(offsetof(HnswElementHeader, tag) == 0 && offsetof(HnswUpperHeader, tag) == 0 &&
				 offsetof(HnswPartHeader, tag) == 0 && offsetof(HnswLinksHeader, tag) == 0,
				 "hnsw_tuple_on_page reads the tag from a tuple's first byte");

#define HNSW_ELEMENT_VECTOR_OFFSET	MAXALIGN(sizeof(HnswElementHeader))
#define HnswElementVector(e)	((float *) ((char *) (e) + HNSW_ELEMENT_VECTOR_OFFSET))
#define HnswElementSlots(e, dims) \
	((ItemPointerData *) ((char *) (e) + HNSW_ELEMENT_VECTOR_OFFSET + sizeof(float) * (dims)))
#define HnswElementSize(dims, m) \
	MAXALIGN(HNSW_ELEMENT_VECTOR_OFFSET + sizeof(float) * (dims) + sizeof(ItemPointerData) * 2 * (m))
/* An element whose layer-0 list is apart ends after its vector. */
#define HnswVectorElementSize(dims) \
	MAXALIGN(HNSW_ELEMENT_VECTOR_OFFSET + sizeof(float) * (dims))
#define HNSW_LINKS_SLOTS_OFFSET	MAXALIGN(sizeof(HnswLinksHeader))
#define HnswLinksSlots(l)		((ItemPointerData *) ((char *) (l) + HNSW_LINKS_SLOTS_OFFSET))
#define HnswLinksSize(m)		MAXALIGN(HNSW_LINKS_SLOTS_OFFSET + sizeof(ItemPointerData) * 2 * (m))
#define HnswUpperSlotsOffset(levels)	MAXALIGN(offsetof(HnswUpperHeader, counts) + sizeof(uint16) * (levels))
#define HnswUpperSlots(u) \
	((ItemPointerData *) ((char *) (u) + HnswUpperSlotsOffset((u)->levels)))
#define HnswUpperSize(levels, m) \
	MAXALIGN(HnswUpperSlotsOffset(levels) + sizeof(ItemPointerData) * (levels) * (m))
/* The largest tuple a page takes (one tuple on an otherwise empty page). */
#define HNSW_MAX_TUPLE_SIZE \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData + sizeof(ItemIdData)) - MAXALIGN(sizeof(HnswPageOpaqueData)))

typedef struct HnswPageOpaqueData
{
	uint16		flags;
	uint16		page_id;		/* HNSW_PAGE_ID, for pg_filedump and friends */
} HnswPageOpaqueData;

#define HNSW_PAGE_ID			0xFF91
#define HNSW_PAGE_META			0x0001

/* External vectors: an element without a vector, then its parts' TIDs. */
#define HnswExternalElementSize(parts, m) \
	MAXALIGN(HNSW_ELEMENT_VECTOR_OFFSET + sizeof(ItemPointerData) * (2 * (m) + (parts)))
#define HnswElementParts(e, m) \
	((ItemPointerData *) ((char *) (e) + HNSW_ELEMENT_VECTOR_OFFSET + sizeof(ItemPointerData) * 2 * (m)))
#define HNSW_PART_VECTOR_OFFSET	MAXALIGN(sizeof(HnswPartHeader))
#define HnswPartVector(p)		((float *) ((char *) (p) + HNSW_PART_VECTOR_OFFSET))
#define HnswPartSize(floats)	MAXALIGN(HNSW_PART_VECTOR_OFFSET + sizeof(float) * (floats))
/*
 * A full part takes a page of its own. The free space map keeps a page's
 * space in 1/256ths of a page, rounding requests up and free space down, so
 * a part that filled a page exactly could never go back onto a page VACUUM
 * emptied: a full part stops one such step short of the page's end.
 */
#define HNSW_PART_MAX_SIZE \
	TYPEALIGN_DOWN(MAXIMUM_ALIGNOF, TYPEALIGN_DOWN(BLCKSZ / 256, HNSW_MAX_TUPLE_SIZE) - sizeof(ItemIdData))
#define HNSW_PART_MAX_FLOATS	((int) ((HNSW_PART_MAX_SIZE - HNSW_PART_VECTOR_OFFSET) / sizeof(float)))
#define HNSW_MAX_PARTS			((VECTORS_MAX_DIMENSIONS + HNSW_PART_MAX_FLOATS - 1) / HNSW_PART_MAX_FLOATS)

/* Every vector the type allows fits, at every m: no dimension limit remains. */
StaticAssertDecl(HnswExternalElementSize(HNSW_MAX_PARTS, VECTORS_HNSW_MAX_M) <= HNSW_MAX_TUPLE_SIZE,
				 "an external element must fit one page");

/*
 * A node's upper tuple shares its element's page, so a node's level is
 * capped where the two stop fitting together: the highest level (at most
 * HNSW_MAX_LEVEL) whose upper tuple fits beside an element of
 * `element_size` bytes. A node drawn above it is stored at the cap, which
 * only matters for elements that nearly fill a page.
 */
static inline int
hnsw_max_level(Size element_size, int m)
{
	int			level = HNSW_MAX_LEVEL;

	while (level > 0 && element_size + sizeof(ItemIdData) + HnswUpperSize(level, m) > HNSW_MAX_TUPLE_SIZE)
		level--;
	return level;
}

/*
 * Vectors stay inside their elements only if the level cap leaves at most
 * one node in a million (a node is drawn above level L with probability
 * m^-(L+1)) stored below its drawn level; a lower cap would flatten the
 * graph's upper layers. 4 levels at m = 16, 3 at m = 64, 2 at m = 100.
 */
static inline int
hnsw_inline_min_level(int m)
{
	int			level = 0;
	double		above = 1.0 / m;	/* P(drawn level > level) */

	while (level < HNSW_MAX_LEVEL && above > 1e-6)
	{
		level++;
		above /= m;
	}
	return level;
}

/*
 * How many parts a new index's vectors are split into: 0 (the vector is
 * inside the element: the original layout and code path) when the element
 * and an upper tuple of hnsw_inline_min_level layers fit a page, else as
 * many parts as needed. Decided at CREATE INDEX from dims and m and
 * recorded in the metapage (vector_parts), which every later reader uses;
 * indexes made before parts existed have 0 there.
 */
static inline int
hnsw_vector_parts(int dims, int m)
{
	if (hnsw_max_level(HnswElementSize(dims, m), m) >= hnsw_inline_min_level(m))
		return 0;
	return (dims + HNSW_PART_MAX_FLOATS - 1) / HNSW_PART_MAX_FLOATS;
}

/* Floats of part `index` of a `dims`-float vector (all full but the last). */
static inline int
hnsw_part_floats(int dims, int index)
{
	return Min(dims - index * HNSW_PART_MAX_FLOATS, HNSW_PART_MAX_FLOATS);
}

/* Bytes of one element tuple of an index with `parts` vector parts. */
static inline Size
hnsw_element_size(int dims, int m, int parts)
{
	return parts == 0 ? HnswElementSize(dims, m) : HnswExternalElementSize(parts, m);
}

/* Node IDs as Swift sees them. */
static inline VectorsNode
hnsw_node(BlockNumber block, OffsetNumber offset)
{
	return ((uint64) block << 16) | offset;
}
static inline BlockNumber
hnsw_node_block(VectorsNode node)
{
	return (BlockNumber) (node >> 16);
}
static inline OffsetNumber
hnsw_node_offset(VectorsNode node)
{
	return (OffsetNumber) (node & 0xFFFF);
}
static inline uint64
hnsw_tid_to_u64(ItemPointer tid)
{
	return hnsw_node(ItemPointerGetBlockNumberNoCheck(tid), ItemPointerGetOffsetNumberNoCheck(tid));
}
static inline void
hnsw_u64_to_tid(uint64 value, ItemPointer tid)
{
	ItemPointerSet(tid, hnsw_node_block(value), hnsw_node_offset(value));
}

/*
 * Pinned links. Every live node but the entry point has at least one
 * incoming layer-0 link that is *pinned*: no pruning drops it (a new node's
 * first referrer pins it, the new entry point pins the old one, VACUUM pins
 * a path to every node whose pinned path it cut). Pinned links form a
 * graph in which the entry point reaches every node, so the whole graph
 * does too. The flag is the top bit of the slot's offset (offsets stay
 * below MaxOffsetNumber, 2048); every reader masks it.
 */
#define HNSW_SLOT_PINNED		0x8000

static inline VectorsNode
hnsw_slot_node(const ItemPointerData *slot)
{
	return hnsw_node(ItemPointerGetBlockNumberNoCheck((ItemPointer) slot),
					 ItemPointerGetOffsetNumberNoCheck((ItemPointer) slot) & ~HNSW_SLOT_PINNED);
}

static inline bool
hnsw_slot_pinned(const ItemPointerData *slot)
{
	return (ItemPointerGetOffsetNumberNoCheck((ItemPointer) slot) & HNSW_SLOT_PINNED) != 0;
}

static inline void
hnsw_set_slot(ItemPointerData *slot, VectorsNode node, bool pinned)
{
	ItemPointerSet(slot, hnsw_node_block(node), hnsw_node_offset(node) | (pinned ? HNSW_SLOT_PINNED : 0));
}

/* qsort/bsearch order of node IDs and heap TIDs as u64. */
static inline int
hnsw_compare_u64(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * A growable array of node IDs or heap TIDs (as u64), in `context` (NULL:
 * the current memory context at the first add). VACUUM keeps its sets of
 * nodes in these, a vbase scan the heap TIDs it returned.
 */
typedef struct NodeSet
{
	VectorsNode *nodes;
	int64		count;
	int64		capacity;
	MemoryContext context;
} NodeSet;

extern void hnsw_node_set_add(NodeSet *set, VectorsNode node);
extern void hnsw_node_set_sort(NodeSet *set);	/* ascending, repeats dropped */
extern bool hnsw_node_set_contains(const NodeSet *set, VectorsNode node);	/* sorted sets */

/* Index options as stored in rd_options. */
typedef struct HnswOptions
{
	int32		vl_len_;
	int			m;
	int			ef_construction;
	int			options_offset;	/* the pgvecto.rs-style TOML string, or 0 */
} HnswOptions;

/* The C side of VectorsIndexHandle (opaque to Swift). */
struct VectorsIndexHandle
{
	Relation	index;
	VectorsIndexInfo info;
	int			parts;			/* the metapage's vector_parts: 0 = vectors inside elements */
	int			inline_dimensions;	/* floats inside an element: dimensions or 0 */
	int			max_level;		/* hnsw_max_level: the highest level a node is stored at */
	Size		element_size;	/* the metapage's element_size: a whole element's length */
	/* The relation's length when last looked at. The index only grows, so a
	 * block below it exists; a target beyond it makes hnsw_block_exists look
	 * again (an insert may have added pages since) instead of an lseek per
	 * page read. */
	BlockNumber nblocks;
	ErrorData  *error;			/* set when a page function caught an ERROR */
};

/* The access method's name and the settings other files name. */
#define VECTORS_ACCESS_METHOD				"vectors"
#define VECTORS_GUC_HNSW_EF_SEARCH			"vectors.hnsw_ef_search"
#define VECTORS_GUC_SEARCH_MODE				"vectors.search_mode"
#define VECTORS_GUC_IVF_NPROBE				"vectors.ivf_nprobe"
#define VECTORS_GUC_PGVECTOR_COMPATIBILITY	"vectors.pgvector_compatibility"

/* vectors.search_mode */
#define VECTORS_SEARCH_BASIC	0
#define VECTORS_SEARCH_VBASE	1

/* Build subphases reported in pg_stat_progress_create_index. */
#define VECTORS_BUILD_PHASE_LOAD	2
#define VECTORS_BUILD_PHASE_LINK	3
#define VECTORS_BUILD_PHASE_WRITE	4
#define VECTORS_BUILD_PHASE_INSERT	5

/* hnsw_am.c */
extern int	vectors_ef_search;
extern int	vectors_search_mode;
extern int	vectors_vbase_memory_multiplier;
extern void hnsw_init(void);
/* build_threads (may be NULL): [optimizing] optimizing_threads, 0 if not given */
extern void hnsw_read_options(Relation index, int *m, int *ef_construction, int *build_threads);

/* compat.c */
extern void compat_init(void);

/* hnsw_pages.c */
extern void hnsw_handle_init(VectorsIndexHandle *handle, Relation index);
extern void hnsw_check_status(VectorsIndexHandle *handle, VectorsStatus status, const VectorsError *error);
extern VectorsMetric hnsw_metric(Relation index);
extern void hnsw_init_page(Page page, uint16 flags);
extern void hnsw_write_metapage(Relation index, ForkNumber fork, VectorsIndexInfo *info, bool logged);
extern void hnsw_read_metapage(Relation index, HnswMetaPageData *meta);
extern void hnsw_handle_read_metapage(VectorsIndexHandle *handle, HnswMetaPageData *meta);
extern VectorsNode hnsw_add_element(VectorsIndexHandle *handle, const float *vector, int level, ItemPointer heap_tid);

/*
 * Validated reading (hnsw_pages.c). Every reader of a page goes through
 * these: a page, tuple or link that could not have been written by this
 * code raises ERRCODE_INDEX_CORRUPTED naming the index and the block,
 * instead of being trusted (docs/INDEX.md, "Damaged indexes").
 */
#define HNSW_TAG_ANY			0	/* hnsw_tuple_on_page: whatever kind is there */
extern bool hnsw_block_exists(VectorsIndexHandle *handle, BlockNumber block);
extern void hnsw_check_page(VectorsIndexHandle *handle, Page page, BlockNumber block);
extern void *hnsw_tuple_on_page(VectorsIndexHandle *handle, Page page, BlockNumber block, OffsetNumber offset,
								uint8 tag);
extern void hnsw_check_tuple(VectorsIndexHandle *handle, Page page, BlockNumber block, OffsetNumber offset);
extern void hnsw_check_targets(VectorsIndexHandle *handle, const ItemPointerData *slots, int count,
							   BlockNumber block, OffsetNumber offset);
extern HnswUpperHeader *hnsw_upper_on_page(VectorsIndexHandle *handle, Page page, ItemPointer tid, int levels);
extern HnswLinksHeader *hnsw_links_on_page(VectorsIndexHandle *handle, Page page, ItemPointer tid, VectorsNode owner);
extern HnswPartHeader *hnsw_part_on_page(VectorsIndexHandle *handle, Page page, ItemPointer tid, VectorsNode owner,
										 int index);

typedef struct CheckedElement
{
	VectorsNode node;
	uint64		heap_tid;
	bool		deleted;
	bool		reached;
	int			first_link;		/* index into links[]: layer 0's first */
	int			link_count;		/* on all layers */
	int			layer0_links;	/* the first ones, on layer 0 */
} CheckedElement;

typedef struct HnswGraphScan
{
	CheckedElement *elements;
	int64		count;
	VectorsNode *links;
	bool	   *link_pinned;	/* per link: pinned (hnsw_slot_pinned) */
	int64		link_count;
	uint64	   *live_heap_tids; /* of live elements, sorted */
	int64		live_count;
	uint64	   *heap_rows;		/* live heap rows with an indexable vector */
	int64		heap_row_count;
	int64		heap_row_capacity;
	int64		missing_rows;
	int64		missing_lists;	/* live elements whose list kept apart is gone */
	int			metric;
	int			dimensions;
	int			parts;			/* the metapage's vector_parts */
	ItemPointerData *part_tids; /* of live elements: [i * parts + k] for the i-th live one */
	VectorsNode *part_owners;	/* the i-th live element */
	int64		part_owner_count;
	float	   *scratch;
} HnswGraphScan;

/* hnsw_check.c */
extern int64 hnsw_scan_graph(Relation index, HnswGraphScan *scan);
extern int64 hnsw_scan_find(HnswGraphScan *scan, VectorsNode node);	/* index into elements, or -1 */

/* hnsw_build.c, hnsw_insert.c, hnsw_scan.c, hnsw_vacuum.c */
extern IndexBuildResult *hnsw_build(Relation heap, Relation index, IndexInfo *info);
extern void hnsw_build_empty(Relation index);
extern bool hnsw_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
						Relation heap, IndexUniqueCheck check_unique, bool index_unchanged,
						IndexInfo *info);
extern void hnsw_insert_vector(VectorsIndexHandle *handle, Vector *vector, ItemPointer heap_tid);
extern IndexScanDesc hnsw_begin_scan(Relation index, int nkeys, int norderbys);
extern void hnsw_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern bool hnsw_get_tuple(IndexScanDesc scan, ScanDirection direction);
extern void hnsw_end_scan(IndexScanDesc scan);
extern IndexBulkDeleteResult *hnsw_bulk_delete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											   IndexBulkDeleteCallback callback, void *state);
extern IndexBulkDeleteResult *hnsw_vacuum_cleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);

#endif
