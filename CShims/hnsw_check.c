/*
 * hnsw_check.c: vectors_index_check(regclass), a structural check of an
 * index for tests and for users who suspect corruption:
 *   - every neighbour link points at an element (bad_links counts those that do not);
 *   - every live element is reachable from the entry point (unreachable);
 *   - every live heap row with a vector has a live element (missing_rows);
 *   - every part of a live element's external vector is there, naming that
 *     element and its place (a missing one counts in bad_links). Parts no
 *     element names (left by a crash mid-insert) are ignored: VACUUM frees them;
 *   - every live element's layer-0 list kept apart is there, naming that
 *     element (a missing one counts in bad_links).
 * The heap is locked in ShareLock for the duration, so no insert is half done.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_type_d.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/rel.h"

#include "hnsw.h"

int64
hnsw_scan_find(HnswGraphScan *state, VectorsNode node)
{
	int64		low = 0,
				high = state->count - 1;

	while (low <= high)
	{
		int64		mid = (low + high) / 2;

		if (state->elements[mid].node == node)
			return mid;
		if (state->elements[mid].node < node)
			low = mid + 1;
		else
			high = mid - 1;
	}
	return -1;
}

static void
add_link(HnswGraphScan *state, int64 *capacity, ItemPointer tid)
{
	if (state->link_count == *capacity)
	{
		*capacity *= 2;
		state->links = repalloc_huge(state->links, sizeof(VectorsNode) * *capacity);
		state->link_pinned = repalloc_huge(state->link_pinned, sizeof(bool) * *capacity);
	}
	state->link_pinned[state->link_count] = hnsw_slot_pinned(tid);
	state->links[state->link_count++] = hnsw_slot_node(tid);
}

/* Adds the links of `node`'s layer-0 list kept apart (none if it is gone:
 * then the element's links are what they are, and reachability shows it). */
static void
add_apart_links(VectorsIndexHandle *handle, HnswGraphScan *state, int64 *capacity, CheckedElement *element,
				ItemPointer tid)
{
	Buffer		buffer;
	HnswLinksHeader *links = NULL;

	/* The element's check (hnsw_tuple_on_page) made sure `tid` is inside the index. */
	buffer = ReadBuffer(handle->index, ItemPointerGetBlockNumber(tid));
	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	links = hnsw_links_on_page(handle, BufferGetPage(buffer), tid, element->node);
	if (links != NULL)
	{
		hnsw_check_targets(handle, HnswLinksSlots(links), links->count, ItemPointerGetBlockNumber(tid),
						   ItemPointerGetOffsetNumber(tid));
		for (int i = 0; i < links->count; i++)
			add_link(state, capacity, &HnswLinksSlots(links)[i]);
	}
	UnlockReleaseBuffer(buffer);
	/* A deleted element may have lost its list to a VACUUM that crashed
	 * before freeing the element too. */
	if (links == NULL && !element->deleted)
		state->missing_lists++;
}

/* Remembers a live external element's part TIDs for check_parts. */
static void
add_parts(HnswGraphScan *state, int64 *capacity, VectorsNode node, HnswElementHeader *element, int m)
{
	if (state->part_owner_count == *capacity)
	{
		*capacity *= 2;
		state->part_owners = repalloc_huge(state->part_owners, sizeof(VectorsNode) * *capacity);
		state->part_tids = repalloc_huge(state->part_tids, sizeof(ItemPointerData) * *capacity * state->parts);
	}
	memcpy(&state->part_tids[state->part_owner_count * state->parts], HnswElementParts(element, m),
		   sizeof(ItemPointerData) * state->parts);
	state->part_owners[state->part_owner_count++] = node;
}

/*
 * Reads every element and its links (elements come out sorted by node).
 * Every tuple passes hnsw_check_tuple first, so the counts walked below are
 * within their lists and the links inside the index: damage raises
 * ERRCODE_INDEX_CORRUPTED instead of being read.
 */
static void
collect(VectorsIndexHandle *handle, HnswGraphScan *state, int m)
{
	Relation	index = handle->index;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	int64		capacity = 1024,
				link_capacity = 16384,
				part_capacity = 1024;
	int			inline_dimensions = state->parts > 0 ? 0 : state->dimensions;

	state->elements = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(CheckedElement) * capacity);
	state->links = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(VectorsNode) * link_capacity);
	state->link_pinned = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(bool) * link_capacity);
	if (state->parts > 0)
	{
		state->part_owners = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(VectorsNode) * part_capacity);
		state->part_tids = MemoryContextAllocHuge(CurrentMemoryContext,
												  sizeof(ItemPointerData) * part_capacity * state->parts);
	}
	for (BlockNumber block = HNSW_METAPAGE_BLKNO + 1; block < nblocks; block++)
	{
		Buffer		buffer = ReadBuffer(index, block);
		PGAlignedBlock copy;
		Page		page = copy.data;

		/* Work on a copy: a list kept apart is on another page, and a
		 * reader locks one page at a time. */
		CHECK_FOR_INTERRUPTS();
		LockBuffer(buffer, BUFFER_LOCK_SHARE);
		memcpy(page, BufferGetPage(buffer), BLCKSZ);
		UnlockReleaseBuffer(buffer);
		if (!PageIsNew(page))
			hnsw_check_page(handle, page, block);
		for (OffsetNumber offset = FirstOffsetNumber; !PageIsNew(page) && offset <= PageGetMaxOffsetNumber(page); offset++)
		{
			HnswElementHeader *element;
			CheckedElement *checked;

			hnsw_check_tuple(handle, page, block, offset);
			element = hnsw_tuple_on_page(handle, page, block, offset, HNSW_TAG_ELEMENT);
			if (element == NULL)
				continue;
			if (state->count == capacity)
			{
				capacity *= 2;
				state->elements = repalloc_huge(state->elements, sizeof(CheckedElement) * capacity);
			}
			checked = &state->elements[state->count++];
			checked->node = hnsw_node(block, offset);
			checked->heap_tid = hnsw_tid_to_u64(&element->heap_tid);
			checked->deleted = (element->flags & HNSW_ELEMENT_DELETED) != 0;
			checked->reached = false;
			checked->first_link = state->link_count;
			if (element->flags & HNSW_ELEMENT_LINKS_APART)
				add_apart_links(handle, state, &link_capacity, checked, &element->links_tid);
			else
				for (int i = 0; i < element->count0; i++)
					add_link(state, &link_capacity, &HnswElementSlots(element, inline_dimensions)[i]);
			checked->layer0_links = state->link_count - checked->first_link;
			if (state->parts > 0 && !checked->deleted)
				add_parts(state, &part_capacity, checked->node, element, m);
			if (element->level > 0)
			{
				/* On the element's page, which the element's check made sure of. */
				HnswUpperHeader *upper = hnsw_upper_on_page(handle, page, &element->upper_tid, element->level);

				if (upper != NULL)
					for (int level = 1; level <= upper->levels; level++)
						for (int i = 0; i < upper->counts[level - 1]; i++)
							add_link(state, &link_capacity, &HnswUpperSlots(upper)[(level - 1) * m + i]);
			}
			checked->link_count = state->link_count - checked->first_link;
		}
	}
}

static void
heap_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool alive, void *arg)
{
	HnswGraphScan *state = (HnswGraphScan *) arg;
	Vector	   *vector;
	uint64		key;

	if (isnull[0] || !alive)
		return;
	vector = DatumGetVectorP(values[0]);
	if (!vectors_prepare(state->metric, vector->x, vector->dim, state->scratch))
		return;					/* zero vector in a cosine index: not indexed */
	key = hnsw_tid_to_u64(tid);
	if (bsearch(&key, state->live_heap_tids, state->live_count, sizeof(uint64), hnsw_compare_u64) == NULL)
		state->missing_rows++;
	if (state->heap_row_count == state->heap_row_capacity)
	{
		state->heap_row_capacity *= 2;
		state->heap_rows = repalloc_huge(state->heap_rows, sizeof(uint64) * state->heap_row_capacity);
	}
	state->heap_rows[state->heap_row_count++] = key;
}

/*
 * Reads the whole graph and marks what the entry point reaches on layer 0,
 * where every search ends and every row is found (a node reached only
 * through upper-layer links would be passed over by a search's descent).
 * Returns the number of links that point at no element.
 */
int64
hnsw_scan_graph(Relation index, HnswGraphScan *state)
{
	HnswMetaPageData meta;
	VectorsIndexHandle handle;
	int64		bad_links = 0;
	int64	   *queue;
	int64		head = 0,
				tail = 0;

	hnsw_handle_init(&handle, index);
	hnsw_handle_read_metapage(&handle, &meta);
	memset(state, 0, sizeof(HnswGraphScan));
	state->dimensions = meta.dimensions;
	state->metric = meta.metric;
	state->parts = meta.vector_parts;
	collect(&handle, state, meta.m);
	/* Lists kept apart must be there; links must point at elements. */
	bad_links = state->missing_lists;
	for (int64 i = 0; i < state->link_count; i++)
		if (hnsw_scan_find(state, state->links[i]) < 0)
			bad_links++;

	/* Breadth-first from the entry point over layer 0. */
	queue = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * Max(state->count, 1));
	if (meta.entry_block != InvalidBlockNumber)
	{
		int64		entry = hnsw_scan_find(state, hnsw_node(meta.entry_block, meta.entry_offset));

		if (entry < 0)
			bad_links++;
		else
		{
			state->elements[entry].reached = true;
			queue[tail++] = entry;
		}
	}
	while (head < tail)
	{
		CheckedElement *e = &state->elements[queue[head++]];

		for (int i = 0; i < e->layer0_links; i++)
		{
			int64		target = hnsw_scan_find(state, state->links[e->first_link + i]);

			if (target >= 0 && !state->elements[target].reached)
			{
				state->elements[target].reached = true;
				queue[tail++] = target;
			}
		}
	}

	pfree(queue);
	return bad_links;
}

/* Counts parts of live elements' vectors that are missing or name another
 * owner or place. One page at a time; the heap's ShareLock keeps writers out. */
static int64
check_parts(Relation index, HnswGraphScan *state)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	VectorsIndexHandle handle;
	int64		bad = 0;

	hnsw_handle_init(&handle, index);
	for (int64 i = 0; i < state->part_owner_count; i++)
	{
		CHECK_FOR_INTERRUPTS();
		for (int k = 0; k < state->parts; k++)
		{
			ItemPointer tid = &state->part_tids[i * state->parts + k];
			Buffer		buffer;

			if (!ItemPointerIsValid(tid) || ItemPointerGetBlockNumber(tid) == HNSW_METAPAGE_BLKNO ||
				ItemPointerGetBlockNumber(tid) >= nblocks)
			{
				bad++;
				continue;
			}
			buffer = ReadBuffer(index, ItemPointerGetBlockNumber(tid));
			LockBuffer(buffer, BUFFER_LOCK_SHARE);
			if (hnsw_part_on_page(&handle, BufferGetPage(buffer), tid, state->part_owners[i], k) == NULL)
				bad++;
			UnlockReleaseBuffer(buffer);
		}
	}
	return bad;
}

/* The record a SQL function about `index` returns, once `index` is known
 * to be a vectors index. */
static TupleDesc
vectors_index_result(FunctionCallInfo fcinfo, Relation index, const char *function)
{
	TupleDesc	desc;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "%s must return a record", function);
	if (index->rd_rel->relam != get_index_am_oid("vectors", false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a vectors index", RelationGetRelationName(index))));
	return desc;
}

PG_FUNCTION_INFO_V1(vectors_index_check);
Datum
vectors_index_check(PG_FUNCTION_ARGS)
{
	Oid			index_oid = PG_GETARG_OID(0);
	Oid			heap_oid = IndexGetRelation(index_oid, false);
	Relation	heap = table_open(heap_oid, ShareLock);
	Relation	index = index_open(index_oid, AccessShareLock);
	HnswMetaPageData meta;
	HnswGraphScan	state = {0};
	int64		bad_links = 0,
				unreachable = 0,
				live = 0,
				deleted = 0;
	TupleDesc	desc;
	Datum		values[6];
	bool		nulls[6] = {0};

	desc = vectors_index_result(fcinfo, index, "vectors_index_check");
	hnsw_read_metapage(index, &meta);

	bad_links = hnsw_scan_graph(index, &state);
	bad_links += check_parts(index, &state);
	state.live_heap_tids = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint64) * Max(state.count, 1));
	for (int64 i = 0; i < state.count; i++)
	{
		if (state.elements[i].deleted)
			deleted++;
		else
		{
			live++;
			state.live_heap_tids[state.live_count++] = state.elements[i].heap_tid;
		}
	}
	qsort(state.live_heap_tids, state.live_count, sizeof(uint64), hnsw_compare_u64);

	/* Every live heap row must be in the index. */
	state.scratch = palloc(sizeof(float) * Max(meta.dimensions, 1));
	state.heap_row_capacity = 1024;
	state.heap_rows = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint64) * state.heap_row_capacity);
	table_index_build_scan(heap, index, BuildIndexInfo(index), false, false, heap_callback, &state, NULL);
	qsort(state.heap_rows, state.heap_row_count, sizeof(uint64), hnsw_compare_u64);

	/* ... and reachable. */
	for (int64 i = 0; i < state.count; i++)
	{
		CheckedElement *e = &state.elements[i];

		if (!e->deleted && !e->reached &&
			bsearch(&e->heap_tid, state.heap_rows, state.heap_row_count, sizeof(uint64), hnsw_compare_u64) != NULL)
			unreachable++;
	}

	index_close(index, AccessShareLock);
	table_close(heap, ShareLock);

	values[0] = Int64GetDatum(live);
	values[1] = Int64GetDatum(deleted);
	values[2] = Int64GetDatum(unreachable);
	values[3] = Int64GetDatum(bad_links);
	values[4] = Int64GetDatum(state.missing_rows);
	values[5] = BoolGetDatum(unreachable == 0 && bad_links == 0 && state.missing_rows == 0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/*
 * vectors_index_stat(regclass): one row of the pg_vector_index_stat view,
 * with pgvecto.rs's columns. This index is one graph that every change
 * enters at once, so it has no background indexing, no growing segments
 * and nothing waiting to be written: idx_indexing is false, idx_growing
 * empty, idx_write 0, and idx_sealed holds one segment, the whole graph.
 * idx_tuples counts the live elements (one pass over the pages).
 */
PG_FUNCTION_INFO_V1(vectors_index_stat);
Datum
vectors_index_stat(PG_FUNCTION_ARGS)
{
	static const char *const metric_names[] = {"l2", "dot", "cos"};
	Oid			index_oid = PG_GETARG_OID(0);
	Relation	index = index_open(index_oid, AccessShareLock);
	VectorsIndexHandle handle;
	BlockNumber nblocks;
	int64		live = 0;
	TupleDesc	desc;
	Datum		values[8];
	bool		nulls[8] = {0};
	Datum		segment;
	StringInfoData options;

	desc = vectors_index_result(fcinfo, index, "vectors_index_stat");
	hnsw_handle_init(&handle, index);
	nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber block = HNSW_METAPAGE_BLKNO + 1; block < nblocks; block++)
	{
		Buffer		buffer = ReadBuffer(index, block);
		Page		page;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buffer, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buffer);
		for (OffsetNumber offset = FirstOffsetNumber; !PageIsNew(page) && offset <= PageGetMaxOffsetNumber(page); offset++)
		{
			HnswElementHeader *element = hnsw_tuple_on_page(&handle, page, block, offset, HNSW_TAG_ELEMENT);

			if (element != NULL && !(element->flags & HNSW_ELEMENT_DELETED))
				live++;
		}
		UnlockReleaseBuffer(buffer);
	}

	initStringInfo(&options);
	appendStringInfo(&options,
					 "{\"vector\":{\"dims\":%d,\"v\":\"vecf32\",\"d\":\"%s\"},\"indexing\":{\"hnsw\":{\"m\":%d,\"ef_construction\":%d}}}",
					 handle.info.dimensions,
					 handle.info.metric >= 0 && handle.info.metric < lengthof(metric_names) ? metric_names[handle.info.metric] : "?",
					 handle.info.m, handle.info.ef_construction);
	segment = Int64GetDatum(live);
	values[0] = CStringGetTextDatum("NORMAL");
	values[1] = BoolGetDatum(false);
	values[2] = Int64GetDatum(live);
	values[3] = PointerGetDatum(construct_array(&segment, 1, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[4] = PointerGetDatum(construct_empty_array(INT8OID));
	values[5] = Int64GetDatum(0);
	values[6] = Int64GetDatum((int64) nblocks * BLCKSZ);
	values[7] = CStringGetTextDatum(options.data);
	index_close(index, AccessShareLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
