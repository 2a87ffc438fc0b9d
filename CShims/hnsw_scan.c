/*
 * hnsw_scan.c: index scans for ORDER BY vector <op> query LIMIT k.
 *
 * basic mode: the first amgettuple runs one HNSW search (breadth
 * vectors.hnsw_ef_search) and the scan then returns those rows, nearest
 * first, at most ef_search of them.
 */
#include "postgres.h"

#include "access/relscan.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw.h"

typedef struct HnswScanState
{
	VectorsIndexHandle handle;
	MemoryContext context;		/* holds the results; reset on rescan */
	bool		searched;
	int			count;
	int			next;
	uint64	   *heap_tids;
	float	   *distances;
} HnswScanState;

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
	MemoryContextReset(state->context);
	state->searched = false;
	state->count = 0;
	state->next = 0;
}

/* Runs the search for the scan's ORDER BY argument. */
static void
search(IndexScanDesc scan, HnswScanState *state)
{
	VectorsIndexInfo *info = &state->handle.info;
	MemoryContext old = MemoryContextSwitchTo(state->context);
	Vector	   *query;
	float	   *prepared;
	VectorsError error;
	VectorsStatus status;
	int32_t		count = 0;
	int			ef = vectors_ef_search;

	state->searched = true;
	if (scan->numberOfOrderBys == 0 || (scan->orderByData[0].sk_flags & SK_ISNULL))
	{
		MemoryContextSwitchTo(old);
		return;					/* ORDER BY NULL: no order to serve */
	}
	query = DatumGetVectorP(scan->orderByData[0].sk_argument);
	if (query->dim != info->dimensions)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", info->dimensions, query->dim)));
	prepared = palloc(sizeof(float) * info->dimensions);
	/* A zero query has no direction: every cosine distance is NaN, so any
	 * order is right; searching with the raw zeros returns some rows. */
	if (!vectors_prepare(info->metric, query->x, query->dim, prepared))
		memcpy(prepared, query->x, sizeof(float) * query->dim);

	state->heap_tids = palloc(sizeof(uint64) * ef);
	state->distances = palloc(sizeof(float) * ef);
	status = vectors_hnsw_search(&state->handle, info, prepared, ef, state->heap_tids, state->distances,
								 &count, &error);
	hnsw_check_status(&state->handle, status, &error);
	state->count = count;
	state->next = 0;
	MemoryContextSwitchTo(old);
}

bool
hnsw_get_tuple(IndexScanDesc scan, ScanDirection direction)
{
	HnswScanState *state = (HnswScanState *) scan->opaque;

	if (!state->searched)
		search(scan, state);
	if (state->next >= state->count)
		return false;
	hnsw_u64_to_tid(state->heap_tids[state->next], &scan->xs_heaptid);
	if (scan->numberOfOrderBys > 0)
	{
		scan->xs_orderbyvals[0] = Float4GetDatum(state->distances[state->next]);
		scan->xs_orderbynulls[0] = false;
	}
	scan->xs_recheck = false;
	scan->xs_recheckorderby = false;
	state->next++;
	return true;
}

void
hnsw_end_scan(IndexScanDesc scan)
{
	HnswScanState *state = (HnswScanState *) scan->opaque;

	MemoryContextDelete(state->context);
	pfree(state);
	scan->opaque = NULL;
}
