/*
 * hnsw_pages.c: the graph's storage in PostgreSQL pages. The vectors_page_*
 * functions are what Swift's PageGraph calls; each one guards its PostgreSQL
 * work with PG_TRY so an ERROR becomes a status code (docs/ARCHITECTURE.md).
 */
#include "postgres.h"

#include <float.h>

#include "access/genam.h"
#include "access/generic_xlog.h"
#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "miscadmin.h"
#include "storage/buf_internals.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/float.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "hnsw.h"

/* ---- handles and errors ---------------------------------------------------- */

void
hnsw_handle_init(VectorsIndexHandle *handle, Relation index)
{
	HnswMetaPageData meta;

	handle->index = index;
	handle->nblocks = 0;
	handle->error = NULL;
	hnsw_handle_read_metapage(handle, &meta);
	handle->info.dimensions = (int32) meta.dimensions;
	handle->info.metric = meta.metric;
	handle->info.m = meta.m;
	handle->info.ef_construction = meta.ef_construction;
	handle->parts = meta.vector_parts;
	handle->inline_dimensions = handle->parts == 0 ? handle->info.dimensions : 0;
	handle->element_size = meta.element_size;
	handle->max_level = hnsw_max_level(handle->element_size, handle->info.m);
	/* The operator class decided the metric at CREATE INDEX and still does. */
	if (meta.metric != hnsw_metric(index))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is corrupted: bad metapage", RelationGetRelationName(index)),
				 errdetail("block 0: metric %u, the operator class has %d", meta.metric, hnsw_metric(index))));
}

/* Raises the error behind a failed Swift call: PostgreSQL's own (saved by a
 * page function) or one Swift described. */
void
hnsw_check_status(VectorsIndexHandle *handle, VectorsStatus status, const VectorsError *error)
{
	if (status == VECTORS_OK)
		return;
	if (status == VECTORS_ERROR_POSTGRES && handle->error != NULL)
	{
		ErrorData  *saved = handle->error;

		handle->error = NULL;
		ReThrowError(saved);
	}
	if (status == VECTORS_ERROR_POSTGRES)
		elog(ERROR, "vectors: graph operation failed without a saved error");
	vectors_raise(status, error);
}

/*
 * Runs `body` under PG_TRY; an ERROR is saved in the handle. An ERROR can
 * come while `body` holds a buffer lock and pin (a damaged tuple is found
 * on a locked page); they stay held until the C caller re-throws, which it
 * does as soon as Swift has returned (Swift unwinds without calling page
 * functions), and the transaction's abort releases them.
 */
#define PAGE_GUARD(handle, body) \
	do { \
		MemoryContext guard_context = CurrentMemoryContext; \
		PG_TRY(); \
		{ \
			body; \
		} \
		PG_CATCH(); \
		{ \
			MemoryContextSwitchTo(guard_context); \
			(handle)->error = CopyErrorData(); \
			FlushErrorState(); \
			status = VECTORS_ERROR_POSTGRES; \
		} \
		PG_END_TRY(); \
	} while (0)

/* ---- node sets ----------------------------------------------------------------- */

void
hnsw_node_set_add(NodeSet *set, VectorsNode node)
{
	if (set->count == set->capacity)
	{
		set->capacity = Max(1024, set->capacity * 2);
		set->nodes = set->nodes
			? repalloc_huge(set->nodes, sizeof(VectorsNode) * set->capacity)
			: MemoryContextAllocHuge(set->context ? set->context : CurrentMemoryContext,
									 sizeof(VectorsNode) * set->capacity);
	}
	set->nodes[set->count++] = node;
}

void
hnsw_node_set_sort(NodeSet *set)
{
	int64		kept = 0;

	if (set->count == 0)
		return;
	qsort(set->nodes, set->count, sizeof(VectorsNode), hnsw_compare_u64);
	for (int64 i = 0; i < set->count; i++)
		if (kept == 0 || set->nodes[kept - 1] != set->nodes[i])
			set->nodes[kept++] = set->nodes[i];
	set->count = kept;
}

bool
hnsw_node_set_contains(const NodeSet *set, VectorsNode node)
{
	return set->count > 0 &&
		bsearch(&node, set->nodes, set->count, sizeof(VectorsNode), hnsw_compare_u64) != NULL;
}

/* ---- operator class -> metric ------------------------------------------------ */

/*
 * The metric comes from the operator class's support function 1, recognised
 * by its C symbol (prosrc), which a user cannot change by renaming it.
 */
VectorsMetric
hnsw_metric(Relation index)
{
	Oid			procid = index_getprocid(index, 1, 1);
	HeapTuple	tuple;
	Datum		prosrc;
	bool		isnull;
	char	   *symbol;
	VectorsMetric metric;

	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(procid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for function %u", procid);
	prosrc = SysCacheGetAttr(PROCOID, tuple, Anum_pg_proc_prosrc, &isnull);
	symbol = isnull ? pstrdup("") : TextDatumGetCString(prosrc);
	ReleaseSysCache(tuple);

	if (strcmp(symbol, "vector_l2_squared_distance") == 0)
		metric = VECTORS_METRIC_L2;
	else if (strcmp(symbol, "vector_negative_inner_product") == 0)
		metric = VECTORS_METRIC_DOT;
	else if (strcmp(symbol, "vector_cosine_distance_op") == 0)
		metric = VECTORS_METRIC_COSINE;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator class of index \"%s\" has an unknown distance function \"%s\"",
						RelationGetRelationName(index), symbol)));
	return metric;
}

/* ---- pages ------------------------------------------------------------------- */

void
hnsw_init_page(Page page, uint16 flags)
{
	HnswPageOpaqueData *opaque;

	PageInit(page, BLCKSZ, sizeof(HnswPageOpaqueData));
	opaque = (HnswPageOpaqueData *) PageGetSpecialPointer(page);
	opaque->flags = flags;
	opaque->page_id = HNSW_PAGE_ID;
}

static void
fill_metapage(Page page, VectorsIndexInfo *info)
{
	HnswMetaPage meta;

	hnsw_init_page(page, HNSW_PAGE_META);
	meta = HnswPageGetMeta(page);
	memset(meta, 0, sizeof(HnswMetaPageData));
	meta->magic = HNSW_MAGIC;
	meta->version = HNSW_VERSION;
	meta->dimensions = info->dimensions;
	meta->m = info->m;
	meta->ef_construction = info->ef_construction;
	meta->metric = info->metric;
	meta->entry_block = InvalidBlockNumber;
	meta->entry_offset = InvalidOffsetNumber;
	meta->last_block = InvalidBlockNumber;
	meta->vector_parts = (uint16) hnsw_vector_parts(info->dimensions, info->m);
	meta->element_size = hnsw_element_size(info->dimensions, info->m, meta->vector_parts);
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;
}

/* Writes block 0 of `fork` (which must be empty). */
void
hnsw_write_metapage(Relation index, ForkNumber fork, VectorsIndexInfo *info, bool logged)
{
	Buffer		buffer = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
	Page		page;

	Assert(BufferGetBlockNumber(buffer) == HNSW_METAPAGE_BLKNO);
	LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
	if (logged)
	{
		GenericXLogState *state = GenericXLogStart(index);

		page = GenericXLogRegisterBuffer(state, buffer, GENERIC_XLOG_FULL_IMAGE);
		fill_metapage(page, info);
		GenericXLogFinish(state);
	}
	else
	{
		page = BufferGetPage(buffer);
		fill_metapage(page, info);
		MarkBufferDirty(buffer);
	}
	UnlockReleaseBuffer(buffer);
}

/* ---- validation -------------------------------------------------------------- */

/*
 * A damaged index must fail its query, never crash the backend or feed a
 * garbage size to palloc: everything a reader relies on is checked where it
 * is read (here, for every reader: page functions, INSERT, VACUUM,
 * vectors_index_check), and what could not have been written by this code
 * raises ERRCODE_INDEX_CORRUPTED naming the index and the block, as
 * PostgreSQL's own access methods do. What a concurrent change or a crash
 * legitimately leaves (a freed slot, a slot reused by another kind of tuple,
 * a list whose owner changed, a zero page an insert added before it
 * crashed) is not corruption and reads as a freed node or an empty list.
 *
 * The checks on a visit are a few compares on lines the read touches anyway
 * (page header, line pointer, tuple header) plus the special area's.
 */
#define CORRUPT(index, what, ...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INDEX_CORRUPTED), \
			 errmsg("index \"%s\" is corrupted: %s", RelationGetRelationName(index), (what)), \
			 errdetail(__VA_ARGS__)))

/* Whether `block` lies inside the relation; looks again at its length only
 * when the block is beyond what was last seen (the index grows while it
 * is read). */
static bool
block_exists(Relation index, BlockNumber *nblocks, BlockNumber block)
{
	if (block < *nblocks)
		return true;
	*nblocks = RelationGetNumberOfBlocks(index);
	return block < *nblocks;
}

bool
hnsw_block_exists(VectorsIndexHandle *handle, BlockNumber block)
{
	return block_exists(handle->index, &handle->nblocks, block);
}

/* Raises unless the metapage's fields are what CREATE INDEX could have
 * written for this index; `nblocks` caches the relation's length. */
static void
check_metapage(Relation index, Page page, BlockNumber *nblocks)
{
	HnswMetaPage meta = HnswPageGetMeta(page);
	HnswPageOpaqueData *opaque = (HnswPageOpaqueData *) PageGetSpecialPointer(page);
	int			typmod = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	Size		element_size;

	if (PageIsNew(page))
		CORRUPT(index, "bad metapage", "block 0: the page is all zeros");
	if (PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaqueData)) ||
		opaque->page_id != HNSW_PAGE_ID || !(opaque->flags & HNSW_PAGE_META))
		CORRUPT(index, "bad metapage", "block 0: special area of %d bytes, page id 0x%04X, flags 0x%04X",
				(int) PageGetSpecialSize(page), opaque->page_id, opaque->flags);
	if (((PageHeader) page)->pd_lower < (char *) meta + sizeof(HnswMetaPageData) - (char *) page)
		CORRUPT(index, "bad metapage", "block 0: pd_lower %u ends before the metapage's fields",
				((PageHeader) page)->pd_lower);
	if (meta->magic != HNSW_MAGIC)
		CORRUPT(index, "bad metapage", "block 0: magic number 0x%08X, expected 0x%08X", meta->magic, HNSW_MAGIC);
	if (meta->version != HNSW_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a vectors index of version %d",
						RelationGetRelationName(index), HNSW_VERSION),
				 errdetail("block 0: version %u", meta->version)));
	if (meta->dimensions < 1 || meta->dimensions > VECTORS_MAX_DIMENSIONS)
		CORRUPT(index, "bad metapage", "block 0: %u dimensions, outside 1..%d", meta->dimensions,
				VECTORS_MAX_DIMENSIONS);
	/* CREATE INDEX took the dimensions from the column's typmod. */
	if (typmod > 0 && meta->dimensions != (uint32) typmod)
		CORRUPT(index, "bad metapage", "block 0: %u dimensions, the column has %d", meta->dimensions, typmod);
	if (meta->m < VECTORS_HNSW_MIN_M || meta->m > VECTORS_HNSW_MAX_M)
		CORRUPT(index, "bad metapage", "block 0: m = %u, outside %d..%d", meta->m, VECTORS_HNSW_MIN_M,
				VECTORS_HNSW_MAX_M);
	if (meta->ef_construction < VECTORS_HNSW_MIN_EF_CONSTRUCTION ||
		meta->ef_construction > VECTORS_HNSW_MAX_EF_CONSTRUCTION)
		CORRUPT(index, "bad metapage", "block 0: ef_construction = %u, outside %d..%d", meta->ef_construction,
				VECTORS_HNSW_MIN_EF_CONSTRUCTION, VECTORS_HNSW_MAX_EF_CONSTRUCTION);
	if (meta->metric > VECTORS_METRIC_COSINE)
		CORRUPT(index, "bad metapage", "block 0: unknown metric %u", meta->metric);
	/* 0: an index made before vectors could be stored in parts. */
	if (meta->vector_parts != 0 && meta->vector_parts != hnsw_vector_parts(meta->dimensions, meta->m))
		CORRUPT(index, "bad metapage", "block 0: vector_parts = %u, expected %d for %u dimensions at m = %u",
				meta->vector_parts, hnsw_vector_parts(meta->dimensions, meta->m), meta->dimensions, meta->m);
	element_size = hnsw_element_size(meta->dimensions, meta->m, meta->vector_parts);
	if (meta->element_size != element_size || element_size > HNSW_MAX_TUPLE_SIZE)
		CORRUPT(index, "bad metapage", "block 0: element_size = %u, expected %zu", meta->element_size,
				element_size);
	if (meta->entry_level > hnsw_max_level(element_size, meta->m))
		CORRUPT(index, "bad metapage", "block 0: entry level %u above the highest level %d", meta->entry_level,
				hnsw_max_level(element_size, meta->m));
	if (meta->entry_block == InvalidBlockNumber)
	{
		if (meta->entry_offset != InvalidOffsetNumber || meta->entry_level != 0)
			CORRUPT(index, "bad metapage", "block 0: no entry point, but entry offset %u and level %u",
					meta->entry_offset, meta->entry_level);
	}
	else if (meta->entry_block == HNSW_METAPAGE_BLKNO || !block_exists(index, nblocks, meta->entry_block) ||
			 meta->entry_offset < FirstOffsetNumber || meta->entry_offset > MaxOffsetNumber)
		CORRUPT(index, "bad metapage", "block 0: entry point (%u,%u) outside the index of %u blocks",
				meta->entry_block, meta->entry_offset, *nblocks);
	if (meta->last_block != InvalidBlockNumber &&
		(meta->last_block == HNSW_METAPAGE_BLKNO || !block_exists(index, nblocks, meta->last_block)))
		CORRUPT(index, "bad metapage", "block 0: last block %u outside the index of %u blocks",
				meta->last_block, *nblocks);
}

static void
read_metapage(Relation index, HnswMetaPageData *meta, BlockNumber *nblocks)
{
	Buffer		buffer = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	Page		page;

	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buffer);
	check_metapage(index, page, nblocks);
	*meta = *HnswPageGetMeta(page);
	UnlockReleaseBuffer(buffer);
}

/* The validated metapage, for callers without a handle. */
void
hnsw_read_metapage(Relation index, HnswMetaPageData *meta)
{
	BlockNumber nblocks = 0;

	read_metapage(index, meta, &nblocks);
}

void
hnsw_handle_read_metapage(VectorsIndexHandle *handle, HnswMetaPageData *meta)
{
	read_metapage(handle->index, meta, &handle->nblocks);
}

/* Raises unless `page` (not new) is one of this index's data pages with a
 * sane header: the line pointers and tuples are then inside the page. */
void
hnsw_check_page(VectorsIndexHandle *handle, Page page, BlockNumber block)
{
	PageHeader	header = (PageHeader) page;
	HnswPageOpaqueData *opaque;

	if (unlikely(header->pd_special != BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData)) ||
				 header->pd_lower < SizeOfPageHeaderData || header->pd_lower > header->pd_upper ||
				 header->pd_upper > header->pd_special))
		CORRUPT(handle->index, "bad page header",
				"block %u: pd_lower %u, pd_upper %u, pd_special %u", block, header->pd_lower,
				header->pd_upper, header->pd_special);
	opaque = (HnswPageOpaqueData *) PageGetSpecialPointer(page);
	if (unlikely(opaque->page_id != HNSW_PAGE_ID || (opaque->flags & HNSW_PAGE_META)))
		CORRUPT(handle->index, "bad page", "block %u: page id 0x%04X, flags 0x%04X", block, opaque->page_id,
				opaque->flags);
}

/* Raises unless `tid`, read from the tuple at (block, offset), can name a
 * tuple of this index: not on the metapage, inside the relation. */
static void
check_target(VectorsIndexHandle *handle, ItemPointer tid, BlockNumber block, OffsetNumber offset, const char *what)
{
	BlockNumber target = ItemPointerGetBlockNumberNoCheck(tid);
	OffsetNumber target_offset = ItemPointerGetOffsetNumberNoCheck(tid);

	if (target == HNSW_METAPAGE_BLKNO || target == InvalidBlockNumber || !hnsw_block_exists(handle, target) ||
		target_offset < FirstOffsetNumber || target_offset > MaxOffsetNumber)
		CORRUPT(handle->index, "bad link", "block %u, offset %u: %s (%u,%u) outside the index of %u blocks",
				block, offset, what, target, target_offset, handle->nblocks);
}

/* Raises unless every slot of a list read from (block, offset) can name a
 * node. A few compares a slot; the relation's length is looked at again
 * only for a block beyond the cached one. */
void
hnsw_check_targets(VectorsIndexHandle *handle, const ItemPointerData *slots, int count, BlockNumber block,
				   OffsetNumber offset)
{
	for (int i = 0; i < count; i++)
	{
		BlockNumber target = ItemPointerGetBlockNumberNoCheck(&slots[i]);
		OffsetNumber target_offset = ItemPointerGetOffsetNumberNoCheck((ItemPointer) &slots[i]) & ~HNSW_SLOT_PINNED;

		if (unlikely(target == HNSW_METAPAGE_BLKNO || target >= handle->nblocks ||
					 target_offset < FirstOffsetNumber || target_offset > MaxOffsetNumber))
		{
			ItemPointerData unpinned;	/* the pin flag is no part of the address */

			hnsw_set_slot(&unpinned, hnsw_slot_node(&slots[i]), false);
			check_target(handle, &unpinned, block, offset, "a neighbour link to");
		}
	}
}

static void
check_element(VectorsIndexHandle *handle, HnswElementHeader *element, Size length, BlockNumber block,
			  OffsetNumber offset)
{
	int			m = handle->info.m;
	Size		expected = handle->element_size;

	if (unlikely(element->flags & ~(HNSW_ELEMENT_DELETED | HNSW_ELEMENT_LINKS_APART)))
		CORRUPT(handle->index, "bad element", "block %u, offset %u: unknown flags 0x%02X", block, offset,
				element->flags);
	if (element->flags & HNSW_ELEMENT_LINKS_APART)
	{
		/* Only an element holding its vector has its list kept apart. */
		if (unlikely(handle->parts > 0))
			CORRUPT(handle->index, "bad element", "block %u, offset %u: list kept apart in an index of vector parts",
					block, offset);
		expected = HnswVectorElementSize(handle->info.dimensions);
		check_target(handle, &element->links_tid, block, offset, "its list kept apart at");
	}
	if (unlikely(length != expected))
		CORRUPT(handle->index, "bad element", "block %u, offset %u: %zu bytes, expected %zu", block, offset,
				length, expected);
	if (unlikely(element->level > handle->max_level))
		CORRUPT(handle->index, "bad element", "block %u, offset %u: level %u above the highest level %d",
				block, offset, element->level, handle->max_level);
	if (unlikely(element->count0 > 2 * m))
		CORRUPT(handle->index, "bad element", "block %u, offset %u: %u layer-0 links, more than %d", block,
				offset, element->count0, 2 * m);
	/* An upper tuple is always written on its element's page. */
	if (element->level > 0 &&
		unlikely(ItemPointerGetBlockNumberNoCheck(&element->upper_tid) != block ||
				 ItemPointerGetOffsetNumberNoCheck(&element->upper_tid) < FirstOffsetNumber ||
				 ItemPointerGetOffsetNumberNoCheck(&element->upper_tid) > MaxOffsetNumber))
		CORRUPT(handle->index, "bad element", "block %u, offset %u: upper tuple at (%u,%u), not on its page",
				block, offset, ItemPointerGetBlockNumberNoCheck(&element->upper_tid),
				ItemPointerGetOffsetNumberNoCheck(&element->upper_tid));
	if (unlikely(ItemPointerGetOffsetNumberNoCheck(&element->heap_tid) == InvalidOffsetNumber))
		CORRUPT(handle->index, "bad element", "block %u, offset %u: invalid heap TID", block, offset);
}

static void
check_upper(VectorsIndexHandle *handle, HnswUpperHeader *upper, Size length, BlockNumber block,
			OffsetNumber offset)
{
	int			m = handle->info.m;

	if (upper->levels < 1 || upper->levels > handle->max_level)
		CORRUPT(handle->index, "bad upper tuple", "block %u, offset %u: %u levels, outside 1..%d", block,
				offset, upper->levels, handle->max_level);
	if (length != HnswUpperSize(upper->levels, m))
		CORRUPT(handle->index, "bad upper tuple", "block %u, offset %u: %zu bytes, expected %zu for %u levels",
				block, offset, length, (Size) HnswUpperSize(upper->levels, m), upper->levels);
	for (int level = 1; level <= upper->levels; level++)
		if (upper->counts[level - 1] > m)
			CORRUPT(handle->index, "bad upper tuple", "block %u, offset %u: %u links on level %d, more than %d",
					block, offset, upper->counts[level - 1], level, m);
}

static void
check_links(VectorsIndexHandle *handle, HnswLinksHeader *links, Size length, BlockNumber block,
			OffsetNumber offset)
{
	int			m = handle->info.m;

	if (length != HnswLinksSize(m))
		CORRUPT(handle->index, "bad links tuple", "block %u, offset %u: %zu bytes, expected %zu", block, offset,
				length, (Size) HnswLinksSize(m));
	if (links->count > 2 * m)
		CORRUPT(handle->index, "bad links tuple", "block %u, offset %u: %u links, more than %d", block, offset,
				links->count, 2 * m);
}

static void
check_part(VectorsIndexHandle *handle, HnswPartHeader *part, Size length, BlockNumber block,
		   OffsetNumber offset)
{
	if (part->index >= handle->parts)
		CORRUPT(handle->index, "bad vector part", "block %u, offset %u: part %u of a vector of %d parts", block,
				offset, part->index, handle->parts);
	if (length != HnswPartSize(hnsw_part_floats(handle->info.dimensions, part->index)))
		CORRUPT(handle->index, "bad vector part", "block %u, offset %u: %zu bytes, expected %zu", block, offset,
				length, (Size) HnswPartSize(hnsw_part_floats(handle->info.dimensions, part->index)));
}

/*
 * The tuple at `offset` of a locked page (or a copy) of block `block` if it
 * is in use and of kind `tag` (HNSW_TAG_ANY: any kind), else NULL: a slot
 * VACUUM freed, possibly reused by another kind. Raises if the page, the
 * line pointer or the tuple's fixed fields are damaged.
 */
void *
hnsw_tuple_on_page(VectorsIndexHandle *handle, Page page, BlockNumber block, OffsetNumber offset, uint8 tag)
{
	PageHeader	header = (PageHeader) page;
	ItemId		item;
	uint8	   *tuple;
	Size		length;

	/* A page added by an insert that crashed before writing it. */
	if (PageIsNew(page))
		return NULL;
	hnsw_check_page(handle, page, block);
	if (offset < FirstOffsetNumber || offset > PageGetMaxOffsetNumber(page))
		return NULL;
	item = PageGetItemId(page, offset);
	if (!ItemIdIsNormal(item))
	{
		/* Freed slots are LP_UNUSED; this code never marks one dead or redirected. */
		if (unlikely(ItemIdIsUsed(item)))
			CORRUPT(handle->index, "bad line pointer", "block %u, offset %u: flags %u", block, offset,
					item->lp_flags);
		return NULL;
	}
	length = ItemIdGetLength(item);
	if (unlikely(length == 0 || item->lp_off < header->pd_upper || item->lp_off + length > header->pd_special ||
				 item->lp_off % MAXIMUM_ALIGNOF != 0))
		CORRUPT(handle->index, "bad line pointer", "block %u, offset %u: %zu bytes at %u, outside %u..%u", block,
				offset, length, item->lp_off, header->pd_upper, header->pd_special);
	tuple = (uint8 *) PageGetItem(page, item);
	/* The tag is every tuple's first byte. */
	if (*tuple != tag && tag != HNSW_TAG_ANY &&
		(*tuple == HNSW_TAG_ELEMENT || *tuple == HNSW_TAG_UPPER || *tuple == HNSW_TAG_LINKS ||
		 (*tuple == HNSW_TAG_PART && handle->parts > 0)))
		return NULL;
	switch (*tuple)
	{
		case HNSW_TAG_ELEMENT:
			check_element(handle, (HnswElementHeader *) tuple, length, block, offset);
			break;
		case HNSW_TAG_UPPER:
			check_upper(handle, (HnswUpperHeader *) tuple, length, block, offset);
			break;
		case HNSW_TAG_LINKS:
			check_links(handle, (HnswLinksHeader *) tuple, length, block, offset);
			break;
		case HNSW_TAG_PART:
			check_part(handle, (HnswPartHeader *) tuple, length, block, offset);
			break;
		default:
			CORRUPT(handle->index, "bad tuple", "block %u, offset %u: unknown tag 0x%02X", block, offset, *tuple);
	}
	return tuple;
}

/*
 * Everything about the tuple at `offset` that can be checked without its
 * owner, including the targets of its lists and the TIDs of its parts:
 * VACUUM's first pass runs it on every tuple it passes.
 */
void
hnsw_check_tuple(VectorsIndexHandle *handle, Page page, BlockNumber block, OffsetNumber offset)
{
	uint8	   *tuple = hnsw_tuple_on_page(handle, page, block, offset, HNSW_TAG_ANY);

	if (tuple == NULL)
		return;
	if (*tuple == HNSW_TAG_ELEMENT)
	{
		HnswElementHeader *element = (HnswElementHeader *) tuple;

		if (!(element->flags & HNSW_ELEMENT_LINKS_APART))
			hnsw_check_targets(handle, HnswElementSlots(element, handle->inline_dimensions), element->count0,
							   block, offset);
		for (int k = 0; k < handle->parts; k++)
			check_target(handle, &HnswElementParts(element, handle->info.m)[k], block, offset, "a vector part at");
	}
	else if (*tuple == HNSW_TAG_UPPER)
	{
		HnswUpperHeader *upper = (HnswUpperHeader *) tuple;

		for (int level = 1; level <= upper->levels; level++)
			hnsw_check_targets(handle, HnswUpperSlots(upper) + (level - 1) * handle->info.m,
							   upper->counts[level - 1], block, offset);
	}
	else if (*tuple == HNSW_TAG_LINKS)
	{
		HnswLinksHeader *links = (HnswLinksHeader *) tuple;

		hnsw_check_targets(handle, HnswLinksSlots(links), links->count, block, offset);
	}
}

static HnswElementHeader *
element_on_page(VectorsIndexHandle *handle, Page page, VectorsNode node)
{
	return hnsw_tuple_on_page(handle, page, hnsw_node_block(node), hnsw_node_offset(node), HNSW_TAG_ELEMENT);
}

/*
 * The upper tuple at `tid` of a locked page; `levels` is its element's
 * level (0: not known), which it must have. NULL if the slot holds none.
 */
HnswUpperHeader *
hnsw_upper_on_page(VectorsIndexHandle *handle, Page page, ItemPointer tid, int levels)
{
	HnswUpperHeader *upper = hnsw_tuple_on_page(handle, page, ItemPointerGetBlockNumberNoCheck(tid),
												ItemPointerGetOffsetNumberNoCheck(tid), HNSW_TAG_UPPER);

	if (upper != NULL && levels > 0 && upper->levels != levels)
		CORRUPT(handle->index, "bad upper tuple", "block %u, offset %u: %u levels, its element has %d",
				ItemPointerGetBlockNumberNoCheck(tid), ItemPointerGetOffsetNumberNoCheck(tid), upper->levels,
				levels);
	return upper;
}

/*
 * The part at `tid` of a locked page if it is part `index` of `owner`'s
 * vector, else NULL: a stale TID (the part was freed and its slot reused)
 * or a part left behind by an insert that never finished.
 */
HnswPartHeader *
hnsw_part_on_page(VectorsIndexHandle *handle, Page page, ItemPointer tid, VectorsNode owner, int index)
{
	HnswPartHeader *part = hnsw_tuple_on_page(handle, page, ItemPointerGetBlockNumberNoCheck(tid),
											  ItemPointerGetOffsetNumberNoCheck(tid), HNSW_TAG_PART);

	if (part == NULL || part->index != index || hnsw_tid_to_u64(&part->owner) != owner)
		return NULL;
	return part;
}

static void
check_node(VectorsIndexHandle *handle, VectorsNode node)
{
	/* Nodes come from lists and the metapage, both checked; this catches a
	 * caller's mistake before ReadBuffer does. */
	if (hnsw_node_block(node) == HNSW_METAPAGE_BLKNO || !hnsw_block_exists(handle, hnsw_node_block(node)))
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is corrupted: bad link", RelationGetRelationName(handle->index)),
				 errdetail("a link to node (%u,%u) outside the index of %u blocks", hnsw_node_block(node),
						   hnsw_node_offset(node), handle->nblocks)));
}

/* ---- recent-buffer hints ---------------------------------------------------- */

/*
 * Where each index block last sat in the buffer pool, remembered across
 * queries in this backend. ReadRecentBuffer pins a hinted buffer if it still
 * holds the block, skipping the buffer-mapping lookup (a hash probe under a
 * partition lock, cache misses on a large pool): that lookup was a fifth of
 * a search's time under perf. A stale hint costs one failed tag check and a
 * normal ReadBuffer. Hints for a few indexes at a time, each an array over
 * the index's blocks (4 bytes a block, up to RECENT_MAX_BLOCKS).
 */
#if PG_VERSION_NUM >= 160000
typedef RelFileLocator HnswRelFile;
#define HNSW_RELFILE(rel) ((rel)->rd_locator)
#else
typedef RelFileNode HnswRelFile;
#define HNSW_RELFILE(rel) ((rel)->rd_node)
#endif

#define RECENT_CACHES		4
#define RECENT_MAX_BLOCKS	(1 << 20)	/* 8 GB of index, a 4 MB array */

typedef struct RecentBuffers
{
	HnswRelFile file;			/* a new relfilenode (REINDEX) starts afresh */
	BlockNumber size;
	Buffer	   *buffers;		/* InvalidBuffer: no hint */
} RecentBuffers;

static RecentBuffers recent_caches[RECENT_CACHES];
static int	recent_next_victim;

static Buffer *
recent_slot(Relation index, BlockNumber block)
{
	HnswRelFile file = HNSW_RELFILE(index);
	RecentBuffers *cache = NULL;

	if (block >= RECENT_MAX_BLOCKS)
		return NULL;
	for (int i = 0; i < RECENT_CACHES; i++)
		if (recent_caches[i].buffers != NULL &&
			memcmp(&recent_caches[i].file, &file, sizeof(file)) == 0)
			cache = &recent_caches[i];
	if (cache == NULL)
	{
		cache = &recent_caches[recent_next_victim];
		recent_next_victim = (recent_next_victim + 1) % RECENT_CACHES;
		if (cache->buffers)
			pfree(cache->buffers);
		cache->file = file;
		cache->size = 0;
		cache->buffers = NULL;
	}
	if (block >= cache->size)
	{
		BlockNumber size = Min(Max(Max(block + 1, cache->size * 2), 1024), RECENT_MAX_BLOCKS);
		Buffer	   *grown = MemoryContextAllocZero(TopMemoryContext, size * sizeof(Buffer));

		if (cache->buffers)
		{
			memcpy(grown, cache->buffers, cache->size * sizeof(Buffer));
			pfree(cache->buffers);
		}
		cache->buffers = grown;
		cache->size = size;
	}
	return &cache->buffers[block];
}

/* The hinted buffer of a block without allocating; InvalidBuffer if none. */
static Buffer
recent_peek(Relation index, BlockNumber block)
{
	HnswRelFile file = HNSW_RELFILE(index);

	for (int i = 0; i < RECENT_CACHES; i++)
		if (recent_caches[i].buffers != NULL && block < recent_caches[i].size &&
			memcmp(&recent_caches[i].file, &file, sizeof(file)) == 0)
			return recent_caches[i].buffers[block];
	return InvalidBuffer;
}

/* ReadBuffer through the hint; the caller locks and releases as usual. */
static Buffer
read_buffer_hinted(Relation index, BlockNumber block)
{
	Buffer	   *slot = recent_slot(index, block);
	Buffer		buffer;

	if (slot && *slot != InvalidBuffer &&
		ReadRecentBuffer(HNSW_RELFILE(index), MAIN_FORKNUM, block, *slot))
		return *slot;
	buffer = ReadBuffer(index, block);
	if (slot)
		*slot = buffer;
	return buffer;
}

/*
 * Two passes over the nodes: the first starts loading each hinted buffer's
 * descriptor, page header and line pointer; the second reads the line
 * pointers (by then mostly in cache) and starts loading the tuples' first
 * lines (header and the start of the vector). Pages are read without a pin
 * or lock: a torn read only misdirects a prefetch, and every address is
 * checked to lie within the page.
 */
void
vectors_page_prefetch(VectorsIndexHandle *handle, const VectorsNode *nodes, int32_t count)
{
	Buffer		buffers[2 * VECTORS_HNSW_MAX_M];
	/* The element header and the vector: what a distance reads. Beyond 16
	 * lines the hardware prefetcher has caught on to the stream. */
	int			tuple_bytes = Min(sizeof(HnswElementHeader) + handle->info.dimensions * sizeof(float), 16 * 64);

	/* External vectors: a distance reads part pages the element does not
	 * name until it is locked; nothing useful to request ahead. */
	if (handle->parts > 0)
		return;
	count = Min(count, lengthof(buffers));
	for (int i = 0; i < count; i++)
	{
		Buffer		buffer = recent_peek(handle->index, hnsw_node_block(nodes[i]));
		char	   *page;

		buffers[i] = buffer;
		if (buffer == InvalidBuffer || BufferIsLocal(buffer))
			continue;
		page = BufferGetBlock(buffer);
		__builtin_prefetch(GetBufferDescriptor(buffer - 1));
		__builtin_prefetch(page);
		/* The special area, which every read checks (hnsw_check_page). */
		__builtin_prefetch(page + BLCKSZ - sizeof(HnswPageOpaqueData));
		__builtin_prefetch(page + SizeOfPageHeaderData + (hnsw_node_offset(nodes[i]) - 1) * sizeof(ItemIdData));
	}
	for (int i = 0; i < count; i++)
	{
		OffsetNumber offset = hnsw_node_offset(nodes[i]);
		char	   *page;
		ItemIdData	item;

		if (buffers[i] == InvalidBuffer || BufferIsLocal(buffers[i]) ||
			offset < FirstOffsetNumber || offset > MaxOffsetNumber)
			continue;
		page = BufferGetBlock(buffers[i]);
		item = *PageGetItemId((Page) page, offset);
		if (item.lp_off >= SizeOfPageHeaderData && item.lp_off + tuple_bytes <= BLCKSZ)
		{
			/* Every cache line from the tuple's first byte to its last. */
			char	   *line = (char *) ((uintptr_t) (page + item.lp_off) & ~(uintptr_t) 63);

			for (; line < page + item.lp_off + tuple_bytes; line += 64)
				__builtin_prefetch(line);
		}
	}
}

/* Pins and share-locks node's page; returns its element, or NULL if the slot
 * no longer holds one. The caller releases with UnlockReleaseBuffer. */
static HnswElementHeader *
read_element(VectorsIndexHandle *handle, VectorsNode node, Buffer *buffer)
{
	check_node(handle, node);
	*buffer = read_buffer_hinted(handle->index, hnsw_node_block(node));
	LockBuffer(*buffer, BUFFER_LOCK_SHARE);
	return element_on_page(handle, BufferGetPage(*buffer), node);
}

/* ---- external vectors ------------------------------------------------------ */

/*
 * Calls `body` with each part of an external vector in order, reading one
 * part page at a time under share lock. The caller has released the
 * element's page: a reader never holds two page locks, so it cannot
 * deadlock with an insert, which holds the new element's page while it
 * writes the parts. Returns false, having called `body` on a prefix only,
 * when a part is gone (the element was freed since its TIDs were read).
 * Nothing stays pinned if ReadBuffer raises.
 */
static bool
for_each_part(VectorsIndexHandle *handle, VectorsNode owner, const ItemPointerData *tids,
			  void (*body) (void *arg, int index, const float *floats, int count), void *arg)
{
	for (int k = 0; k < handle->parts; k++)
	{
		ItemPointerData tid = tids[k];
		Buffer		buffer;
		HnswPartHeader *part;

		/* A live element's parts were written before it: a TID naming no
		 * page of the index is damage, not a race. */
		check_target(handle, &tid, hnsw_node_block(owner), hnsw_node_offset(owner), "a vector part at");
		buffer = read_buffer_hinted(handle->index, ItemPointerGetBlockNumber(&tid));
		LockBuffer(buffer, BUFFER_LOCK_SHARE);
		part = hnsw_part_on_page(handle, BufferGetPage(buffer), &tid, owner, k);
		if (part != NULL)
			body(arg, k, HnswPartVector(part), hnsw_part_floats(handle->info.dimensions, k));
		UnlockReleaseBuffer(buffer);
		if (part == NULL)
			return false;
	}
	return true;
}

typedef struct PartDistance
{
	int32		metric;			/* the metric of each slice's partial sum */
	const float *query;
	float		sum;
} PartDistance;

/* Squared L2 and (negated) dot products are sums over any split of the
 * vector, so each slice adds its share with the ordinary kernel. */
static void
add_part_distance(void *arg, int index, const float *floats, int count)
{
	PartDistance *distance = (PartDistance *) arg;

	distance->sum += vectors_distance(distance->metric, distance->query + index * HNSW_PART_MAX_FLOATS,
									  floats, count);
}

/* The distance from `query` to an external vector; false if a part is gone
 * (a freed node: the distance is then infinity, as for a freed element). */
static bool
external_distance(VectorsIndexHandle *handle, VectorsNode node, const ItemPointerData *tids, const float *query,
				  float *out)
{
	PartDistance distance;

	/* Cosine vectors are stored unit-length: 1 - a.b, from the dot product. */
	distance.metric = handle->info.metric == VECTORS_METRIC_L2 ? VECTORS_METRIC_L2 : VECTORS_METRIC_DOT;
	distance.query = query;
	distance.sum = 0;
	if (!for_each_part(handle, node, tids, add_part_distance, &distance))
	{
		*out = get_float4_infinity();
		return false;
	}
	if (handle->info.metric == VECTORS_METRIC_COSINE)
		*out = Max(0.0f, 1.0f + distance.sum);	/* sum is -(a.b) */
	else
		*out = distance.sum;
	return true;
}

static void
copy_part(void *arg, int index, const float *floats, int count)
{
	memcpy((float *) arg + index * HNSW_PART_MAX_FLOATS, floats, sizeof(float) * count);
}

/* Copies the element's part TIDs and releases its page (locked by read_element). */
static void
release_element(VectorsIndexHandle *handle, HnswElementHeader *element, Buffer buffer, ItemPointerData *tids)
{
	memcpy(tids, HnswElementParts(element, handle->info.m), sizeof(ItemPointerData) * handle->parts);
	UnlockReleaseBuffer(buffer);
}

/* ---- page functions called by Swift ---------------------------------------- */

VectorsStatus
vectors_page_entry(VectorsIndexHandle *handle, VectorsNode *node, int32_t *level)
{
	VectorsStatus status = VECTORS_OK;

	PAGE_GUARD(handle, {
		HnswMetaPageData meta;

		hnsw_handle_read_metapage(handle, &meta);
		if (meta.entry_block == InvalidBlockNumber)
		{
			*node = 0;
			*level = -1;
		}
		else
		{
			*node = hnsw_node(meta.entry_block, meta.entry_offset);
			*level = meta.entry_level;
		}
	});
	return status;
}

VectorsStatus
vectors_page_visit(VectorsIndexHandle *handle, VectorsNode node, const float *query,
				   float *distance, bool *live, uint64_t *heap_tid)
{
	VectorsStatus status = VECTORS_OK;

	PAGE_GUARD(handle, {
		Buffer		buffer;
		HnswElementHeader *element = read_element(handle, node, &buffer);

		if (element != NULL && handle->parts > 0)
		{
			ItemPointerData tids[HNSW_MAX_PARTS];

			*live = (element->flags & HNSW_ELEMENT_DELETED) == 0;
			*heap_tid = hnsw_tid_to_u64(&element->heap_tid);
			release_element(handle, element, buffer, tids);
			if (!external_distance(handle, node, tids, query, distance))
				*live = false;	/* freed while we read it */
		}
		else
		{
			if (element == NULL)
			{
				/* Freed since the link was read: unreachable and never returned. */
				*distance = get_float4_infinity();
				*live = false;
				*heap_tid = 0;
			}
			else
			{
				*distance = vectors_distance(handle->info.metric, query, HnswElementVector(element),
											 handle->info.dimensions);
				*live = (element->flags & HNSW_ELEMENT_DELETED) == 0;
				*heap_tid = hnsw_tid_to_u64(&element->heap_tid);
			}
			UnlockReleaseBuffer(buffer);
		}
	});
	return status;
}

VectorsStatus
vectors_page_level(VectorsIndexHandle *handle, VectorsNode node, int32_t *level)
{
	VectorsStatus status = VECTORS_OK;

	PAGE_GUARD(handle, {
		Buffer		buffer;
		HnswElementHeader *element = read_element(handle, node, &buffer);

		*level = element ? element->level : -1;
		UnlockReleaseBuffer(buffer);
	});
	return status;
}

VectorsStatus
vectors_page_vector(VectorsIndexHandle *handle, VectorsNode node, float *out)
{
	VectorsStatus status = VECTORS_OK;

	PAGE_GUARD(handle, {
		Buffer		buffer;
		HnswElementHeader *element = read_element(handle, node, &buffer);

		bool		found = element != NULL;

		if (element != NULL && handle->parts > 0)
		{
			ItemPointerData tids[HNSW_MAX_PARTS];

			release_element(handle, element, buffer, tids);
			found = for_each_part(handle, node, tids, copy_part, out);
		}
		else
		{
			if (element)
				memcpy(out, HnswElementVector(element), sizeof(float) * handle->info.dimensions);
			UnlockReleaseBuffer(buffer);
		}
		if (!found)
		{
			/* A freed node is infinitely far from everything. */
			for (int i = 0; i < handle->info.dimensions; i++)
				out[i] = FLT_MAX;
		}
	});
	return status;
}

/*
 * The links tuple at `tid` of a locked page if it holds `owner`'s layer-0
 * list, else NULL (the element was freed and the slot reused meanwhile).
 */
HnswLinksHeader *
hnsw_links_on_page(VectorsIndexHandle *handle, Page page, ItemPointer tid, VectorsNode owner)
{
	HnswLinksHeader *links = hnsw_tuple_on_page(handle, page, ItemPointerGetBlockNumberNoCheck(tid),
												ItemPointerGetOffsetNumberNoCheck(tid), HNSW_TAG_LINKS);

	if (links == NULL || hnsw_tid_to_u64(&links->owner) != owner)
		return NULL;
	return links;
}

/*
 * Where `node`'s list on `level` is when it is not inside the element: the
 * links tuple at `tid` for layer 0, the upper tuple at `tid` above. Sets
 * `slots` and `count` into the locked `page`; false if the tuple is gone
 * (its slot freed or reused since the element was read). `levels` is the
 * element's level, which its upper tuple must have.
 */
static bool
list_in_tuple(VectorsIndexHandle *handle, Page page, ItemPointer tid, VectorsNode node, int level, int levels,
			  ItemPointerData **slots, uint16 **count)
{
	int			m = handle->info.m;

	if (level == 0)
	{
		HnswLinksHeader *links = hnsw_links_on_page(handle, page, tid, node);

		if (links == NULL)
			return false;
		*slots = HnswLinksSlots(links);
		*count = &links->count;
	}
	else
	{
		HnswUpperHeader *upper = hnsw_upper_on_page(handle, page, tid, levels);

		if (upper == NULL || level > upper->levels)
			return false;
		*slots = HnswUpperSlots(upper) + (level - 1) * m;
		*count = &upper->counts[level - 1];
	}
	return true;
}

/* Node IDs (and, if asked, pinned flags) of `count` slots. */
static inline void
copy_slots(const ItemPointerData *slots, int count, VectorsNode *out, uint8_t *pinned)
{
	for (int i = 0; i < count; i++)
		out[i] = hnsw_slot_node(&slots[i]);
	if (pinned != NULL)
		for (int i = 0; i < count; i++)
			pinned[i] = hnsw_slot_pinned(&slots[i]);
}

/* Copies `node`'s list on `level` from the tuple at `tid` (list_in_tuple);
 * its element's page is no longer locked: a reader holds one page lock at
 * a time. */
static int
read_list_apart(VectorsIndexHandle *handle, VectorsNode node, ItemPointer tid, int level, int levels,
				VectorsNode *out, uint8_t *pinned, int capacity)
{
	Buffer		buffer;
	ItemPointerData *slots;
	uint16	   *listed;
	int			count = 0;

	if (!ItemPointerIsValid(tid))
		return 0;
	buffer = read_buffer_hinted(handle->index, ItemPointerGetBlockNumber(tid));
	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	if (list_in_tuple(handle, BufferGetPage(buffer), tid, node, level, levels, &slots, &listed))
	{
		count = Min(*listed, capacity);
		hnsw_check_targets(handle, slots, count, ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid));
		copy_slots(slots, count, out, pinned);
	}
	UnlockReleaseBuffer(buffer);
	return count;
}

VectorsStatus
vectors_page_neighbors(VectorsIndexHandle *handle, VectorsNode node, int32_t level,
					   VectorsNode *out, uint8_t *pinned, int32_t capacity, int32_t *count)
{
	VectorsStatus status = VECTORS_OK;

	PAGE_GUARD(handle, {
		Buffer		buffer;
		HnswElementHeader *element = read_element(handle, node, &buffer);
		HnswElementHeader copy;

		*count = 0;
		if (element != NULL && level == 0 && !(element->flags & HNSW_ELEMENT_LINKS_APART))
		{
			ItemPointerData *slots = HnswElementSlots(element, handle->inline_dimensions);

			*count = Min(element->count0, capacity);
			hnsw_check_targets(handle, slots, *count, hnsw_node_block(node), hnsw_node_offset(node));
			copy_slots(slots, *count, out, pinned);
		}
		if (element != NULL)
			copy = *element;
		UnlockReleaseBuffer(buffer);
		/* Upper layers, and a layer-0 list kept apart, live in other tuples;
		 * read them without holding this page. */
		if (element != NULL && level == 0 && (copy.flags & HNSW_ELEMENT_LINKS_APART))
			*count = read_list_apart(handle, node, &copy.links_tid, 0, 0, out, pinned, capacity);
		if (element != NULL && level > 0 && level <= copy.level)
			*count = read_list_apart(handle, node, &copy.upper_tid, level, copy.level, out, pinned, capacity);
	});
	return status;
}

/* Starts a WAL-logged change of one page. */
static Page
begin_change(Relation index, Buffer buffer, GenericXLogState **state)
{
	*state = GenericXLogStart(index);
	return GenericXLogRegisterBuffer(*state, buffer, 0);
}

/*
 * Writes a list: `count` neighbours (neighbors == NULL: the list as it is).
 * On layer 0 a target that was pinned stays pinned, and `pin` (0: none)
 * is pinned too. Returns whether `pin` is in the list afterwards.
 */
static bool
write_slots(ItemPointerData *slots, uint16 *listed, int level, const VectorsNode *neighbors, int count,
			VectorsNode pin)
{
	VectorsNode pinned[2 * VECTORS_HNSW_MAX_M];
	int			npinned = 0;
	bool		found = false;

	if (neighbors == NULL)
	{
		for (int i = 0; i < *listed; i++)
			if (pin != 0 && hnsw_slot_node(&slots[i]) == pin)
			{
				hnsw_set_slot(&slots[i], pin, level == 0);
				found = true;
			}
		return found;
	}
	if (level == 0)
		for (int i = 0; i < *listed && npinned < lengthof(pinned); i++)
			if (hnsw_slot_pinned(&slots[i]))
				pinned[npinned++] = hnsw_slot_node(&slots[i]);
	for (int i = 0; i < count; i++)
	{
		bool		keep_pin = pin != 0 && neighbors[i] == pin;

		found |= keep_pin;
		for (int j = 0; j < npinned && !keep_pin; j++)
			keep_pin = pinned[j] == neighbors[i];
		hnsw_set_slot(&slots[i], neighbors[i], keep_pin && level == 0);
	}
	*listed = (uint16) count;
	return found;
}

/* Replaces (or with neighbors == NULL keeps) `node`'s list on `level`,
 * pinning `pin` on layer 0 (write_slots); *pinned says whether it did. */
static VectorsStatus
update_list(VectorsIndexHandle *handle, VectorsNode node, int32_t level, const VectorsNode *neighbors,
			int32_t count, VectorsNode pin, bool *pinned)
{
	VectorsStatus status = VECTORS_OK;

	*pinned = false;
	PAGE_GUARD(handle, {
		Buffer		buffer;
		GenericXLogState *state;
		Page		page;
		HnswElementHeader *element;
		int			m = handle->info.m;

		check_node(handle, node);
		if (count > (level == 0 ? 2 * m : m))
			elog(ERROR, "vectors: %d neighbours exceed the limit of level %d", count, level);
		buffer = ReadBuffer(handle->index, hnsw_node_block(node));
		LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
		page = begin_change(handle->index, buffer, &state);
		element = element_on_page(handle, page, node);
		if (element == NULL || level > element->level)
		{
			GenericXLogAbort(state);
			UnlockReleaseBuffer(buffer);
		}
		else if (level == 0 && !(element->flags & HNSW_ELEMENT_LINKS_APART))
		{
			ItemPointerData *slots = HnswElementSlots(element, handle->inline_dimensions);

			*pinned = write_slots(slots, &element->count0, level, neighbors, count, pin);
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buffer);
		}
		else
		{
			/* A layer-0 list kept apart, or an upper layer: another tuple,
			 * locked after this page is released. */
			ItemPointerData tid = level == 0 ? element->links_tid : element->upper_tid;
			int			levels = element->level;
			ItemPointerData *slots;
			uint16	   *listed;

			GenericXLogAbort(state);
			UnlockReleaseBuffer(buffer);

			buffer = ReadBuffer(handle->index, ItemPointerGetBlockNumber(&tid));
			LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
			page = begin_change(handle->index, buffer, &state);
			if (!list_in_tuple(handle, page, &tid, node, level, levels, &slots, &listed))
				GenericXLogAbort(state);
			else
			{
				*pinned = write_slots(slots, listed, level, neighbors, count, pin);
				GenericXLogFinish(state);
			}
			UnlockReleaseBuffer(buffer);
		}
	});
	return status;
}

VectorsStatus
vectors_page_set_neighbors(VectorsIndexHandle *handle, VectorsNode node, int32_t level,
						   const VectorsNode *neighbors, int32_t count)
{
	bool		pinned;

	return update_list(handle, node, level, neighbors, count, 0, &pinned);
}

VectorsStatus
vectors_page_pin(VectorsIndexHandle *handle, VectorsNode node, VectorsNode target, bool *pinned)
{
	return update_list(handle, node, 0, NULL, 0, target, pinned);
}

VectorsStatus
vectors_page_set_entry(VectorsIndexHandle *handle, VectorsNode node, int32_t level)
{
	VectorsStatus status = VECTORS_OK;

	PAGE_GUARD(handle, {
		Buffer		buffer = ReadBuffer(handle->index, HNSW_METAPAGE_BLKNO);
		GenericXLogState *state;
		HnswMetaPage meta;

		LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
		meta = HnswPageGetMeta(begin_change(handle->index, buffer, &state));
		if (node == 0)
		{
			meta->entry_block = InvalidBlockNumber;
			meta->entry_offset = InvalidOffsetNumber;
			meta->entry_level = 0;
		}
		else
		{
			meta->entry_block = hnsw_node_block(node);
			meta->entry_offset = hnsw_node_offset(node);
			meta->entry_level = (uint8) level;
		}
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buffer);
	});
	return status;
}

VectorsStatus
vectors_page_check_interrupts(VectorsIndexHandle *handle)
{
	VectorsStatus status = VECTORS_OK;

	PAGE_GUARD(handle, {
		CHECK_FOR_INTERRUPTS();
	});
	return status;
}

/* ---- adding elements (C callers, may ERROR) ------------------------------- */

/*
 * A page with `needed` free bytes, exclusively locked: from the free space
 * map (space VACUUM freed), else the last page, else InvalidBuffer (the
 * caller adds a page). Never `exclude`, a page the caller already holds.
 */
static Buffer
page_with_space(VectorsIndexHandle *handle, Size needed, BlockNumber last_block, BlockNumber exclude)
{
	Relation	index = handle->index;
	BlockNumber block = GetPageWithFreeSpace(index, needed);

	while (block != InvalidBlockNumber)
	{
		Buffer		buffer;
		Page		page;

		if (block == exclude)
		{
			/* Hide it for now; the caller records its true space afterwards. */
			block = RecordAndGetPageWithFreeSpace(index, block, 0, needed);
			continue;
		}
		buffer = ReadBuffer(index, block);
		LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buffer);
		if (!PageIsNew(page))
			hnsw_check_page(handle, page, block);
		/* An all-zero page (extended, never written) reports no free space. */
		if (PageGetFreeSpace(page) >= needed)
			return buffer;
		block = RecordAndGetPageWithFreeSpace(index, block, PageGetFreeSpace(page), needed);
		UnlockReleaseBuffer(buffer);
	}
	if (last_block != InvalidBlockNumber && last_block != exclude)
	{
		Buffer		buffer = ReadBuffer(index, last_block);

		LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
		if (!PageIsNew(BufferGetPage(buffer)))
			hnsw_check_page(handle, BufferGetPage(buffer), last_block);
		if (PageGetFreeSpace(BufferGetPage(buffer)) >= needed)
			return buffer;
		UnlockReleaseBuffer(buffer);
	}
	return InvalidBuffer;
}

static Buffer
new_page(Relation index)
{
	Buffer		buffer;

	LockRelationForExtension(index, ExclusiveLock);
	buffer = ReadBuffer(index, P_NEW);
	LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	return buffer;
}

/* A page for `needed` bytes, exclusively locked, added if none has room;
 * `fresh` says it was just added (so the WAL record carries a full image). */
static Buffer
page_for(VectorsIndexHandle *handle, Size needed, BlockNumber last_block, BlockNumber exclude, bool *fresh)
{
	Buffer		buffer = page_with_space(handle, needed, last_block, exclude);

	*fresh = !BufferIsValid(buffer);
	return *fresh ? new_page(handle->index) : buffer;
}

/*
 * The first `count` offsets PageAddItem can fill on `page` when told them
 * explicitly: unused line pointers first, then new ones past the end. An
 * external element's offset must be known before it is added, because its
 * parts (written first) name it as their owner.
 */
static void
free_offsets(Page page, OffsetNumber *out, int count)
{
	OffsetNumber max = PageIsNew(page) ? InvalidOffsetNumber : PageGetMaxOffsetNumber(page);
	int			n = 0;

	for (OffsetNumber offset = FirstOffsetNumber; offset <= max && n < count; offset++)
	{
		ItemId		item = PageGetItemId(page, offset);

		if (!ItemIdIsUsed(item) && !ItemIdHasStorage(item))
			out[n++] = offset;
	}
	while (n < count)
		out[n++] = ++max;
}

/* Adds `size` bytes at `offset` (InvalidOffsetNumber: wherever PageAddItem
 * likes) or raises. */
static OffsetNumber
add_tuple(Relation index, Page page, void *tuple, Size size, OffsetNumber offset, const char *what)
{
	OffsetNumber added = PageAddItem(page, (Item) tuple, size, offset, OffsetNumberIsValid(offset), false);

	if (added == InvalidOffsetNumber)
		elog(ERROR, "vectors: failed to add %s to index \"%s\"", what, RelationGetRelationName(index));
	return added;
}

/*
 * Writes the parts of an external vector whose element will be `owner`,
 * one WAL record each (GenericXLog takes at most 4 pages a record), and
 * fills `tids`. The element's page (`exclude`) stays locked by the caller
 * meanwhile, keeping its reserved slot free; parts go anywhere else. A
 * crash before the element is written leaves only parts nothing points at,
 * which VACUUM frees. Returns the highest block used.
 */
static BlockNumber
write_parts(VectorsIndexHandle *handle, const float *vector, VectorsNode owner, BlockNumber exclude,
			BlockNumber last_block, ItemPointerData *tids)
{
	int			dims = handle->info.dimensions;
	HnswPartHeader *part = palloc0(HnswPartSize(HNSW_PART_MAX_FLOATS));
	BlockNumber highest = last_block;

	part->tag = HNSW_TAG_PART;
	hnsw_u64_to_tid(owner, &part->owner);
	for (int k = 0; k < handle->parts; k++)
	{
		int			floats = hnsw_part_floats(dims, k);
		Size		size = HnswPartSize(floats);
		bool		fresh;
		Buffer		buffer = page_for(handle, size + sizeof(ItemIdData), highest, exclude, &fresh);
		BlockNumber block = BufferGetBlockNumber(buffer);
		GenericXLogState *state = GenericXLogStart(handle->index);
		Page		page = GenericXLogRegisterBuffer(state, buffer, fresh ? GENERIC_XLOG_FULL_IMAGE : 0);

		if (fresh || PageIsNew(page))
			hnsw_init_page(page, 0);
		part->index = (uint16) k;
		memcpy(HnswPartVector(part), vector + k * HNSW_PART_MAX_FLOATS, sizeof(float) * floats);
		ItemPointerSet(&tids[k], block, add_tuple(handle->index, page, part, size, InvalidOffsetNumber, "a vector part"));
		GenericXLogFinish(state);
		RecordPageWithFreeSpace(handle->index, block, PageGetFreeSpace(BufferGetPage(buffer)));
		UnlockReleaseBuffer(buffer);
		if (highest == InvalidBlockNumber || block > highest)
			highest = block;
	}
	pfree(part);
	return highest;
}

/*
 * Stores a new node (element and, for level >= 1, its upper tuple) with
 * empty neighbour lists and returns its ID. The caller holds the write lock.
 */
VectorsNode
hnsw_add_element(VectorsIndexHandle *handle, const float *vector, int level, ItemPointer heap_tid)
{
	int			dims = handle->info.dimensions;
	int			m = handle->info.m;
	Size		element_size = hnsw_element_size(dims, m, handle->parts);
	Size		upper_size = level > 0 ? HnswUpperSize(level, m) : 0;
	Size		needed = element_size + (level > 0 ? upper_size + sizeof(ItemIdData) : 0) + sizeof(ItemIdData);
	HnswMetaPageData meta;
	HnswElementHeader *element = palloc0(element_size);
	HnswUpperHeader *upper = NULL;
	Buffer		buffer;
	GenericXLogState *state;
	Page		page;
	OffsetNumber element_offset;
	OffsetNumber offsets[2] = {InvalidOffsetNumber, InvalidOffsetNumber};	/* upper, element */
	BlockNumber block;
	BlockNumber highest;
	bool		fresh;

	hnsw_handle_read_metapage(handle, &meta);

	element->tag = HNSW_TAG_ELEMENT;
	element->level = (uint8) level;
	element->heap_tid = *heap_tid;
	ItemPointerSetInvalid(&element->upper_tid);
	if (handle->parts == 0)
		memcpy(HnswElementVector(element), vector, sizeof(float) * dims);
	if (level > 0)
	{
		upper = palloc0(upper_size);
		upper->tag = HNSW_TAG_UPPER;
		upper->levels = (uint8) level;
	}

	/* Both tuples go on one page, so one WAL record covers the new node. */
	buffer = page_for(handle, needed, meta.last_block, InvalidBlockNumber, &fresh);
	block = BufferGetBlockNumber(buffer);
	highest = block;
	if (handle->parts > 0)
	{
		/* Reserve the node's offsets; the parts are written (and logged) first. */
		if (level > 0)
			free_offsets(BufferGetPage(buffer), offsets, 2);
		else
			free_offsets(BufferGetPage(buffer), &offsets[1], 1);
		highest = write_parts(handle, vector, hnsw_node(block, offsets[1]), block, meta.last_block,
							  HnswElementParts(element, m));
		highest = Max(highest, block);
	}
	state = GenericXLogStart(handle->index);
	page = GenericXLogRegisterBuffer(state, buffer, fresh ? GENERIC_XLOG_FULL_IMAGE : 0);
	if (fresh || PageIsNew(page))
		hnsw_init_page(page, 0);
	if (upper != NULL)
		ItemPointerSet(&element->upper_tid, block,
					   add_tuple(handle->index, page, upper, upper_size, offsets[0], "an upper tuple"));
	element_offset = add_tuple(handle->index, page, element, element_size, offsets[1], "an element");
	GenericXLogFinish(state);
	RecordPageWithFreeSpace(handle->index, block, PageGetFreeSpace(BufferGetPage(buffer)));
	UnlockReleaseBuffer(buffer);

	if (meta.last_block == InvalidBlockNumber || highest > meta.last_block)
	{
		/* Remember the newest page for the next insert. */
		Buffer		metabuffer = ReadBuffer(handle->index, HNSW_METAPAGE_BLKNO);
		HnswMetaPage stored;

		LockBuffer(metabuffer, BUFFER_LOCK_EXCLUSIVE);
		stored = HnswPageGetMeta(begin_change(handle->index, metabuffer, &state));
		stored->last_block = highest;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(metabuffer);
	}
	pfree(element);
	if (upper)
		pfree(upper);
	return hnsw_node(block, element_offset);
}
