/*
 * hnsw_build.c: CREATE INDEX. The heap's vectors are collected into a graph
 * built in memory by Swift, then written to pages in one pass and WAL-logged
 * with log_newpage_range. If the graph outgrows maintenance_work_mem, what
 * is in memory is written out and the remaining rows are inserted on disk,
 * one by one, like INSERT does.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "optimizer/cost.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw.h"

typedef struct BuildState
{
	VectorsIndexHandle handle;
	VectorsBuilder *builder;	/* NULL once the graph went to disk */
	MemoryContextCallback release;
	MemoryContext build_context;
	MemoryContext tuple_context;	/* reset after every heap row */
	float	   *prepared;
	Size		memory_limit;
	double		heap_tuples;
	double		index_tuples;
	bool		spilled;
	instr_time	phase_start;	/* for the DEBUG1 phase timings */
} BuildState;

/* Logs (at DEBUG1) how long the phase that ends now took and starts the next. */
static void
end_phase(BuildState *state, const char *phase)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, state->phase_start);
	elog(DEBUG1, "vectors: index \"%s\": %s took %.3f s",
		 RelationGetRelationName(state->handle.index), phase, INSTR_TIME_GET_DOUBLE(now));
	INSTR_TIME_SET_CURRENT(state->phase_start);
}

/* Frees the Swift builder if the build fails half way (DESIGN.md rule 6). */
static void
release_builder(void *arg)
{
	BuildState *state = (BuildState *) arg;

	if (state->builder != NULL)
	{
		vectors_build_free(state->builder);
		state->builder = NULL;
	}
}

static bool
interrupt_pending(void)
{
	return InterruptPending;
}

/* Checks the column: it needs a dimension (typmod) that fits one page. */
static int
index_dimensions(Relation index)
{
	int			dims = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	int			m;
	int			ef_construction;
	Size		element_size;

	if (dims < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_DEFINITION),
				 errmsg("column of index \"%s\" has no dimensions", RelationGetRelationName(index)),
				 errhint("Declare the column as vector(n), for example vector(512).")));
	hnsw_read_options(index, &m, &ef_construction);
	element_size = HnswElementSize(dims, m);
	if (element_size > HNSW_MAX_TUPLE_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector(%d) is too large for index \"%s\" with m = %d",
						dims, RelationGetRelationName(index), m),
				 errdetail("A graph node takes %zu bytes; one index page holds %zu.",
						   element_size, (Size) HNSW_MAX_TUPLE_SIZE),
				 errhint("Use at most %zu dimensions, or a smaller m.",
						 (HNSW_MAX_TUPLE_SIZE - HNSW_ELEMENT_VECTOR_OFFSET - sizeof(ItemPointerData) * 2 * m) / sizeof(float))));
	return dims;
}

/*
 * Writes the in-memory graph: placement first (node number -> TID, filling
 * pages in node order, each node's upper tuple next to its element), then
 * the pages themselves with neighbour numbers translated to TIDs.
 */
static void
write_graph(BuildState *state)
{
	Relation	index = state->handle.index;
	VectorsBuilder *builder = state->builder;
	int			dims = state->handle.info.dimensions;
	int			m = state->handle.info.m;
	int64		count = vectors_build_count(builder);
	Size		element_size = HnswElementSize(dims, m);
	Size		page_space = HNSW_MAX_TUPLE_SIZE + sizeof(ItemIdData);
	ItemPointerData *tids;
	Size		free_space = 0;
	BlockNumber block = HNSW_METAPAGE_BLKNO;
	OffsetNumber offset = InvalidOffsetNumber;
	int64	   *neighbors = palloc(sizeof(int64) * 2 * m);
	HnswElementHeader *element = palloc0(element_size);
	HnswUpperHeader *upper = palloc0(HnswUpperSize(HNSW_MAX_LEVEL, m));
	Buffer		buffer = InvalidBuffer;
	Page		page = NULL;
	int32		entry_level = 0;
	int64		entry;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, VECTORS_BUILD_PHASE_WRITE);
	tids = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ItemPointerData) * Max(count, 1));
	for (int64 i = 0; i < count; i++)
	{
		int			level = vectors_build_level(builder, i);
		Size		needed = element_size + sizeof(ItemIdData) +
			(level > 0 ? HnswUpperSize(level, m) + sizeof(ItemIdData) : 0);

		if (needed > free_space)
		{
			block++;
			offset = InvalidOffsetNumber;
			free_space = page_space;
		}
		if (level > 0)
			offset = OffsetNumberNext(offset);
		offset = OffsetNumberNext(offset);
		ItemPointerSet(&tids[i], block, offset);
		free_space -= needed;
	}

	for (int64 i = 0; i < count; i++)
	{
		int			level = vectors_build_level(builder, i);
		int			n;
		OffsetNumber added;

		if (i % 1024 == 0)
			CHECK_FOR_INTERRUPTS();
		if (!BufferIsValid(buffer) || BufferGetBlockNumber(buffer) != ItemPointerGetBlockNumber(&tids[i]))
		{
			if (BufferIsValid(buffer))
			{
				MarkBufferDirty(buffer);
				UnlockReleaseBuffer(buffer);
			}
			buffer = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
			if (BufferGetBlockNumber(buffer) != ItemPointerGetBlockNumber(&tids[i]))
				elog(ERROR, "vectors: unexpected block %u while writing index \"%s\"",
					 BufferGetBlockNumber(buffer), RelationGetRelationName(index));
			LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
			page = BufferGetPage(buffer);
			hnsw_init_page(page, 0);
		}

		memset(element, 0, element_size);
		element->tag = HNSW_TAG_ELEMENT;
		element->level = (uint8) level;
		hnsw_u64_to_tid(vectors_build_heap_tid(builder, i), &element->heap_tid);
		ItemPointerSetInvalid(&element->upper_tid);
		memcpy(HnswElementVector(element), vectors_build_vector(builder, i), sizeof(float) * dims);
		n = vectors_build_neighbors(builder, i, 0, neighbors);
		for (int k = 0; k < n; k++)
			HnswElementSlots(element, dims)[k] = tids[neighbors[k]];
		element->count0 = (uint16) n;

		if (level > 0)
		{
			Size		upper_size = HnswUpperSize(level, m);

			memset(upper, 0, upper_size);
			upper->tag = HNSW_TAG_UPPER;
			upper->levels = (uint8) level;
			for (int l = 1; l <= level; l++)
			{
				n = vectors_build_neighbors(builder, i, l, neighbors);
				upper->counts[l - 1] = (uint16) n;
				for (int k = 0; k < n; k++)
					HnswUpperSlots(upper)[(l - 1) * m + k] = tids[neighbors[k]];
			}
			added = PageAddItem(page, (Item) upper, upper_size, InvalidOffsetNumber, false, false);
			ItemPointerSet(&element->upper_tid, BufferGetBlockNumber(buffer), added);
		}
		added = PageAddItem(page, (Item) element, element_size, InvalidOffsetNumber, false, false);
		if (added != ItemPointerGetOffsetNumber(&tids[i]))
			elog(ERROR, "vectors: node %lld landed at offset %u instead of %u in index \"%s\"",
				 (long long) i, added, ItemPointerGetOffsetNumber(&tids[i]), RelationGetRelationName(index));
	}
	if (BufferIsValid(buffer))
	{
		MarkBufferDirty(buffer);
		UnlockReleaseBuffer(buffer);
	}

	/* Entry point and the page inserts continue on. */
	entry = vectors_build_entry(builder, &entry_level);
	buffer = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
	{
		HnswMetaPage meta = HnswPageGetMeta(BufferGetPage(buffer));

		if (entry >= 0)
		{
			meta->entry_block = ItemPointerGetBlockNumber(&tids[entry]);
			meta->entry_offset = ItemPointerGetOffsetNumber(&tids[entry]);
			meta->entry_level = (uint8) entry_level;
		}
		meta->last_block = count > 0 ? block : InvalidBlockNumber;
	}
	MarkBufferDirty(buffer);
	UnlockReleaseBuffer(buffer);
	pfree(tids);
	pfree(neighbors);
	pfree(element);
	pfree(upper);
}

/* Links the collected vectors, writes them out and WAL-logs every page. */
static void
flush_graph(BuildState *state)
{
	VectorsError error;
	VectorsStatus status;

	end_phase(state, "collecting vectors");
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, VECTORS_BUILD_PHASE_LINK);
	for (;;)
	{
		/* The leader plus max_parallel_maintenance_workers threads, the
		 * setting PostgreSQL's own parallel index builds follow. */
		status = vectors_build_link(state->builder, max_parallel_maintenance_workers + 1,
									interrupt_pending, &error);
		if (status != VECTORS_INTERRUPTED)
			break;
		CHECK_FOR_INTERRUPTS();	/* raises on cancel or timeout; else resume */
	}
	hnsw_check_status(&state->handle, status, &error);
	end_phase(state, "linking the graph");
	write_graph(state);
	end_phase(state, "writing pages");
	if (RelationNeedsWAL(state->handle.index))
		log_newpage_range(state->handle.index, MAIN_FORKNUM, 0,
						  RelationGetNumberOfBlocks(state->handle.index), true);
	end_phase(state, "WAL-logging pages");
	vectors_build_free(state->builder);
	state->builder = NULL;
}

static void
build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool alive, void *arg)
{
	BuildState *state = (BuildState *) arg;
	MemoryContext old;
	Vector	   *vector;

	state->heap_tuples++;
	if (isnull[0])
		return;
	old = MemoryContextSwitchTo(state->tuple_context);
	vector = DatumGetVectorP(values[0]);
	if (state->builder == NULL)
	{
		/* On-disk phase: each row is a complete insert. */
		hnsw_insert_vector(&state->handle, vector, tid);
		state->index_tuples++;
	}
	else
	{
		if (vector->dim != state->handle.info.dimensions)
			vectors_check_typmod(vector->dim, state->handle.info.dimensions);
		if (vectors_prepare(state->handle.info.metric, vector->x, vector->dim, state->prepared))
		{
			vectors_build_add(state->builder, state->prepared, hnsw_tid_to_u64(tid));
			state->index_tuples++;
		}
		if (vectors_build_memory(state->builder) > state->memory_limit)
		{
			ereport(NOTICE,
					(errmsg("index \"%s\" no longer fits in maintenance_work_mem after %.0f rows; inserting the rest on disk",
							RelationGetRelationName(index), state->index_tuples),
					 errhint("Building is faster when the graph fits: raise maintenance_work_mem.")));
			MemoryContextSwitchTo(state->build_context);
			flush_graph(state);
			pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, VECTORS_BUILD_PHASE_INSERT);
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->tuple_context);
	if ((int64) state->heap_tuples % 256 == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) state->heap_tuples);
}

IndexBuildResult *
hnsw_build(Relation heap, Relation index, IndexInfo *info)
{
	IndexBuildResult *result = palloc(sizeof(IndexBuildResult));
	BuildState *state = palloc0(sizeof(BuildState));
	VectorsIndexInfo index_info;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	index_info.dimensions = index_dimensions(index);
	index_info.metric = hnsw_metric(index);
	hnsw_read_options(index, &index_info.m, &index_info.ef_construction);
	hnsw_write_metapage(index, MAIN_FORKNUM, &index_info, false);
	hnsw_handle_init(&state->handle, index);

	state->build_context = CurrentMemoryContext;
	state->tuple_context = AllocSetContextCreate(CurrentMemoryContext, "vectors build tuple", ALLOCSET_DEFAULT_SIZES);
	state->prepared = palloc(sizeof(float) * index_info.dimensions);
	state->memory_limit = (Size) maintenance_work_mem * 1024;
	state->builder = vectors_build_new(&index_info);
	state->release.func = release_builder;
	state->release.arg = state;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &state->release);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, VECTORS_BUILD_PHASE_LOAD);
	INSTR_TIME_SET_CURRENT(state->phase_start);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) heap->rd_rel->reltuples);
	table_index_build_scan(heap, index, info, true, true, build_callback, state, NULL);

	if (state->builder != NULL)
		flush_graph(state);

	result->heap_tuples = state->heap_tuples;
	result->index_tuples = state->index_tuples;
	return result;
}

/* An unlogged table's index: just the metapage, in the init fork. */
void
hnsw_build_empty(Relation index)
{
	VectorsIndexInfo info;

	info.dimensions = index_dimensions(index);
	info.metric = hnsw_metric(index);
	hnsw_read_options(index, &info.m, &info.ef_construction);
	hnsw_write_metapage(index, INIT_FORKNUM, &info, true);
}
