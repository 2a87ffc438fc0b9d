/*
 * hnsw_scan.c: index scans for ORDER BY vector <op> query [LIMIT k].
 *
 * Each scan owns a Swift SearchStream. In basic mode it returns the (at most
 * vectors.hnsw_ef_search) results of one HNSW search, nearest first. In
 * vbase mode (the default) it keeps traversing the graph on demand, so the
 * executor can keep pulling rows until its WHERE clause and LIMIT are
 * satisfied (docs/INDEX.md states the ordering guarantee).
 *
 * A vbase scan never ends before it has returned every live row. When the
 * graph stream ends (the graph is exhausted, or its state reached
 * work_mem x vectors.vbase_memory_multiplier) the scan frees the stream and
 * makes one pass over the index's pages: every live element whose heap row
 * was not returned yet goes into a tuplesort by distance (which spills to
 * disk beyond work_mem), and the scan returns those rows in exact order.
 * Only the heap TIDs already returned are kept meanwhile (8 bytes a row).
 *
 * The stream is released on rescan, at the end of the scan, and, through a
 * memory-context callback, when an error aborts the query.
 */
#include "postgres.h"

#include "access/relscan.h"
#include "catalog/pg_operator_d.h"
#include "catalog/pg_type_d.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplesort.h"

#include "hnsw.h"

typedef enum HnswScanPhase
{
	SCAN_GRAPH,					/* the Swift stream (basic: its first batch only) */
	SCAN_REST,					/* vbase: the rows the stream did not return, sorted */
	SCAN_DONE
} HnswScanPhase;

typedef struct HnswScanState
{
	VectorsIndexHandle handle;
	MemoryContext context;		/* per-query state; reset on rescan */
	MemoryContext sort_context; /* holds `rest` (outside `context`: ended before a reset) */
	VectorsStream *stream;		/* NULL until the first amgettuple */
	MemoryContextCallback release;
	HnswScanPhase phase;
	bool		continues;		/* vbase mode, as it was when the scan started */
	float	   *query;			/* prepared */
	NodeSet		returned;		/* heap TIDs returned by the stream (vbase) */
	Tuplesortstate *rest;		/* SCAN_REST: (distance, heap TID) by distance */
	TupleTableSlot *slot;
} HnswScanState;

static void
release_stream(void *arg)
{
	HnswScanState *state = (HnswScanState *) arg;

	if (state->stream != NULL)
	{
		vectors_stream_free(state->stream);
		state->stream = NULL;
	}
}

/* Ends the final pass's sort (its temporary files too); before any reset. */
static void
end_rest(HnswScanState *state)
{
	if (state->rest != NULL)
	{
		tuplesort_end(state->rest);
		state->rest = NULL;
	}
	if (state->slot != NULL)
	{
		ExecDropSingleTupleTableSlot(state->slot);
		state->slot = NULL;
	}
}

IndexScanDesc
hnsw_begin_scan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HnswScanState *state = palloc0(sizeof(HnswScanState));

	hnsw_handle_init(&state->handle, index);
	/* The AM owns the arrays the executor reads ORDER BY values from. */
	if (norderbys > 0)
	{
		scan->xs_orderbyvals = palloc0(sizeof(Datum) * norderbys);
		scan->xs_orderbynulls = palloc(sizeof(bool) * norderbys);
		memset(scan->xs_orderbynulls, true, sizeof(bool) * norderbys);
	}
	state->context = AllocSetContextCreate(CurrentMemoryContext, "vectors scan", ALLOCSET_DEFAULT_SIZES);
	state->returned.context = state->context;
	state->sort_context = CurrentMemoryContext;
	scan->opaque = state;
	return scan;
}

void
hnsw_rescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	HnswScanState *state = (HnswScanState *) scan->opaque;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
	end_rest(state);
	MemoryContextReset(state->context);	/* runs release_stream */
	state->stream = NULL;
	state->phase = SCAN_GRAPH;
	state->query = NULL;
	state->returned = (NodeSet) {.context = state->context};
}

/* Starts the stream for the scan's ORDER BY argument; false if there is none. */
static bool
start_stream(IndexScanDesc scan, HnswScanState *state)
{
	VectorsIndexInfo *info = &state->handle.info;
	MemoryContext old;
	Vector	   *query;
	float	   *prepared;
	Size		memory_limit = (Size) work_mem * 1024 * vectors_vbase_memory_multiplier;

	if (scan->numberOfOrderBys == 0 || (scan->orderByData[0].sk_flags & SK_ISNULL))
		return false;			/* ORDER BY NULL: no order to serve */
	old = MemoryContextSwitchTo(state->context);
	query = DatumGetVectorP(scan->orderByData[0].sk_argument);
	if (query->dim != info->dimensions)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", info->dimensions, query->dim)));
	prepared = palloc(sizeof(float) * info->dimensions);
	state->query = prepared;
	/* A zero query has no direction: every cosine distance is NaN, so any
	 * order is right; searching with the raw zeros returns rows. */
	if (!vectors_prepare(info->metric, query->x, query->dim, prepared))
		memcpy(prepared, query->x, sizeof(float) * query->dim);

	state->release.func = release_stream;
	state->release.arg = state;
	MemoryContextRegisterResetCallback(state->context, &state->release);
	state->continues = vectors_search_mode == VECTORS_SEARCH_VBASE;
	state->stream = vectors_stream_new(&state->handle, info, prepared, vectors_ef_search, state->continues,
									   memory_limit);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * The final pass of a vbase scan: every live element whose row the stream
 * did not return, sorted by distance. Elements are listed one page at a
 * time, then each is visited through the same page function a search uses
 * (which validates it and reads external vectors' parts), with no page
 * locked meanwhile.
 */
static void
start_rest(HnswScanState *state)
{
	Relation	index = state->handle.index;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	AttrNumber	sort_column = 1;
	Oid			sort_operator = Float8LessOperator;
	Oid			collation = InvalidOid;
	bool		nulls_first = false;
	TupleDesc	desc;
	MemoryContext old;
	VectorsNode *nodes = palloc(sizeof(VectorsNode) * MaxOffsetNumber);

	release_stream(state);		/* its memory is what the limit was about */
	hnsw_node_set_sort(&state->returned);

	old = MemoryContextSwitchTo(state->sort_context);
	desc = CreateTemplateTupleDesc(2);
	TupleDescInitEntry(desc, 1, "distance", FLOAT8OID, -1, 0);
	TupleDescInitEntry(desc, 2, "heap_tid", INT8OID, -1, 0);
	state->slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	state->rest = tuplesort_begin_heap(desc, 1, &sort_column, &sort_operator, &collation, &nulls_first,
									   work_mem, NULL, TUPLESORT_NONE);
	MemoryContextSwitchTo(old);

	for (BlockNumber block = HNSW_METAPAGE_BLKNO + 1; block < nblocks; block++)
	{
		Buffer		buffer;
		Page		page;
		int			count = 0;

		CHECK_FOR_INTERRUPTS();
		buffer = ReadBuffer(index, block);
		LockBuffer(buffer, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buffer);
		for (OffsetNumber offset = FirstOffsetNumber; !PageIsNew(page) && offset <= PageGetMaxOffsetNumber(page); offset++)
		{
			HnswElementHeader *element = hnsw_tuple_on_page(&state->handle, page, block, offset, HNSW_TAG_ELEMENT);
			uint64		heap_tid;

			if (element == NULL || (element->flags & HNSW_ELEMENT_DELETED))
				continue;
			heap_tid = hnsw_tid_to_u64(&element->heap_tid);
			if (hnsw_node_set_contains(&state->returned, heap_tid))
				continue;
			nodes[count++] = hnsw_node(block, offset);
		}
		UnlockReleaseBuffer(buffer);

		for (int i = 0; i < count; i++)
		{
			float		distance;
			bool		live;
			uint64_t	heap_tid;
			VectorsError error = {{0}};
			VectorsStatus status = vectors_page_visit(&state->handle, nodes[i], state->query, &distance, &live,
													  &heap_tid);

			hnsw_check_status(&state->handle, status, &error);
			if (!live)
				continue;		/* deleted or freed since the page was read */
			ExecClearTuple(state->slot);
			state->slot->tts_values[0] = Float8GetDatum(distance);
			state->slot->tts_values[1] = Int64GetDatum((int64) heap_tid);
			state->slot->tts_isnull[0] = state->slot->tts_isnull[1] = false;
			ExecStoreVirtualTuple(state->slot);
			tuplesort_puttupleslot(state->rest, state->slot);
		}
	}
	pfree(nodes);
	tuplesort_performsort(state->rest);
}

/* The next row of the scan: its heap TID and distance; false at the end. */
static bool
next_row(IndexScanDesc scan, HnswScanState *state, uint64_t *heap_tid, float *distance)
{
	if (state->phase == SCAN_GRAPH)
	{
		bool		found;
		VectorsError error;
		VectorsStatus status;

		status = vectors_stream_next(state->stream, heap_tid, distance, &found, &error);
		hnsw_check_status(&state->handle, status, &error);
		if (found)
		{
			if (state->continues)
				hnsw_node_set_add(&state->returned, *heap_tid);	/* the final pass skips it */
			return true;
		}
		if (!state->continues)
		{
			state->phase = SCAN_DONE;
			return false;
		}
		start_rest(state);
		state->phase = SCAN_REST;
	}
	if (state->phase == SCAN_REST)
	{
		bool		isnull;

		if (tuplesort_gettupleslot(state->rest, true, false, state->slot, NULL))
		{
			*distance = (float) DatumGetFloat8(slot_getattr(state->slot, 1, &isnull));
			*heap_tid = (uint64_t) DatumGetInt64(slot_getattr(state->slot, 2, &isnull));
			return true;
		}
		end_rest(state);
		state->phase = SCAN_DONE;
	}
	return false;
}

bool
hnsw_get_tuple(IndexScanDesc scan, ScanDirection direction)
{
	HnswScanState *state = (HnswScanState *) scan->opaque;
	uint64_t	heap_tid;
	float		distance;

	if (state->phase == SCAN_DONE)
		return false;
	if (state->stream == NULL && state->phase == SCAN_GRAPH && !start_stream(scan, state))
	{
		state->phase = SCAN_DONE;
		return false;
	}
	if (!next_row(scan, state, &heap_tid, &distance))
		return false;
	hnsw_u64_to_tid(heap_tid, &scan->xs_heaptid);
	if (scan->numberOfOrderBys > 0)
	{
		scan->xs_orderbyvals[0] = Float4GetDatum(distance);
		scan->xs_orderbynulls[0] = false;
	}
	scan->xs_recheck = false;
	scan->xs_recheckorderby = false;
	return true;
}

void
hnsw_end_scan(IndexScanDesc scan)
{
	HnswScanState *state = (HnswScanState *) scan->opaque;

	end_rest(state);
	MemoryContextDelete(state->context);	/* runs release_stream */
	pfree(state);
	scan->opaque = NULL;
}
