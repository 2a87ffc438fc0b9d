/*
 * hnsw_scan.c: index scans for ORDER BY vector <op> query [LIMIT k].
 *
 * Each scan owns a Swift SearchStream. In basic mode it returns the (at most
 * vectors.hnsw_ef_search) results of one HNSW search, nearest first. In
 * vbase mode (the default) it keeps traversing the graph on demand, so the
 * executor can keep pulling rows until its WHERE clause and LIMIT are
 * satisfied (docs/INDEX.md states the ordering guarantee).
 *
 * The stream is released on rescan, at the end of the scan, and, through a
 * memory-context callback, when an error aborts the query.
 */
#include "postgres.h"

#include "access/relscan.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw.h"

typedef struct HnswScanState
{
	VectorsIndexHandle handle;
	MemoryContext context;		/* per-query state; reset on rescan */
	VectorsStream *stream;		/* NULL until the first amgettuple */
	MemoryContextCallback release;
	bool		finished;
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
	MemoryContextReset(state->context);	/* runs release_stream */
	state->stream = NULL;
	state->finished = false;
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
	/* A zero query has no direction: every cosine distance is NaN, so any
	 * order is right; searching with the raw zeros returns rows. */
	if (!vectors_prepare(info->metric, query->x, query->dim, prepared))
		memcpy(prepared, query->x, sizeof(float) * query->dim);

	state->release.func = release_stream;
	state->release.arg = state;
	MemoryContextRegisterResetCallback(state->context, &state->release);
	state->stream = vectors_stream_new(&state->handle, info, prepared, vectors_ef_search,
									   vectors_search_mode == VECTORS_SEARCH_VBASE, memory_limit);
	MemoryContextSwitchTo(old);
	return true;
}

bool
hnsw_get_tuple(IndexScanDesc scan, ScanDirection direction)
{
	HnswScanState *state = (HnswScanState *) scan->opaque;
	uint64_t	heap_tid;
	float		distance;
	bool		found;
	VectorsError error;
	VectorsStatus status;

	if (state->finished)
		return false;
	if (state->stream == NULL && !start_stream(scan, state))
	{
		state->finished = true;
		return false;
	}
	status = vectors_stream_next(state->stream, &heap_tid, &distance, &found, &error);
	hnsw_check_status(&state->handle, status, &error);
	if (!found)
	{
		state->finished = true;
		return false;
	}
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

	MemoryContextDelete(state->context);	/* runs release_stream */
	pfree(state);
	scan->opaque = NULL;
}
