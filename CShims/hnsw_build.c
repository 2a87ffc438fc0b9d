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
	int			threads;		/* that link the graph in memory */
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

/*
 * Checks the column: it needs a dimension (typmod). Every dimension the type
 * allows can be indexed: a vector too large to share a page with its links
 * is stored in parts (hnsw.h).
 */
static int
index_dimensions(Relation index)
{
	int			dims = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;

	if (dims < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_DEFINITION),
				 errmsg("column of index \"%s\" has no dimensions", RelationGetRelationName(index)),
				 errhint("Declare the column as vector(n), for example vector(512).")));
	return dims;
}

/* Where the next tuple goes while the build fills pages in order. */
typedef struct PageCursor
{
	BlockNumber block;			/* HNSW_METAPAGE_BLKNO before the first tuple */
	OffsetNumber offset;		/* the last offset used on `block` */
	Size		free_space;
} PageCursor;

/*
 * Reserves `needed` bytes (tuples and their line pointers) for `items`
 * consecutive tuples on one page, starting the next page when this one
 * lacks the room; returns the first tuple's offset.
 */
static OffsetNumber
place_tuples(PageCursor *cursor, Size needed, int items)
{
	if (needed > cursor->free_space)
	{
		cursor->block++;
		cursor->offset = InvalidOffsetNumber;
		cursor->free_space = HNSW_MAX_TUPLE_SIZE + sizeof(ItemIdData);
	}
	cursor->free_space -= needed;
	cursor->offset += items;
	return cursor->offset - items + 1;
}

/* The page `block` while pages are written in order: the current one, or
 * (after releasing it) the next one, added and initialised. */
static Page
build_page(Relation index, Buffer *buffer, BlockNumber block)
{
	if (BufferIsValid(*buffer) && BufferGetBlockNumber(*buffer) == block)
		return BufferGetPage(*buffer);
	if (BufferIsValid(*buffer))
	{
		MarkBufferDirty(*buffer);
		UnlockReleaseBuffer(*buffer);
	}
	*buffer = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
	if (BufferGetBlockNumber(*buffer) != block)
		elog(ERROR, "vectors: unexpected block %u while writing index \"%s\"",
			 BufferGetBlockNumber(*buffer), RelationGetRelationName(index));
	LockBuffer(*buffer, BUFFER_LOCK_EXCLUSIVE);
	hnsw_init_page(BufferGetPage(*buffer), 0);
	return BufferGetPage(*buffer);
}

/* Adds a tuple where placement said it goes. */
static void
add_placed(Relation index, Page page, void *tuple, Size size, OffsetNumber expected)
{
	OffsetNumber added = PageAddItem(page, (Item) tuple, size, InvalidOffsetNumber, false, false);

	if (added != expected)
		elog(ERROR, "vectors: a tuple landed at offset %u instead of %u in index \"%s\"",
			 added, expected, RelationGetRelationName(index));
}

/* A node's level as stored: the in-memory graph's, capped (hnsw_max_level);
 * layers above the cap are left out for every node alike. */
static int
node_level(BuildState *state, int64 node)
{
	return Min(vectors_build_level(state->builder, node), state->handle.max_level);
}

/* Bytes a node's upper tuple takes beside its element (0 on level 0). */
static Size
upper_space(BuildState *state, int64 node)
{
	int			level = node_level(state, node);

	return level > 0 ? HnswUpperSize(level, state->handle.info.m) + sizeof(ItemIdData) : 0;
}

/*
 * Placement of an index whose vectors are inside their elements: node
 * number -> TID, filling pages in node order, each node's upper tuple next
 * to its element.
 *
 * A page rarely ends where a node does: at 384 dimensions and m = 16 four
 * whole nodes (1,756 bytes each) leave 1,132 of a page's 8,156 bytes, two
 * thirds of a node, empty, and at 50 dimensions the remainder is smaller
 * than anything. Where that room holds layer-0 lists, the build keeps some
 * lists apart from their elements (`links` tuples): an element without its
 * list is 1,564 bytes, so five fit a page ("apart" page: the first stays
 * whole, four lists wait), and the next "whole" pages take four whole nodes
 * plus five waiting lists each (the lists go oldest first). Pages then
 * carry 4.5 nodes on average instead of 4 (0.88x the index size). A page
 * is an apart page while fewer lists wait than a whole page takes. Reading
 * a list kept apart costs a search one more page access when it expands
 * that node; distances, far more frequent, read only the element.
 *
 * Returns the number of lists kept apart: `links_tids` has their places
 * (invalid for lists inside their elements) and `links_order` their nodes
 * in page order. `*last_block` is the last page used.
 */
static int64
place_nodes(BuildState *state, int64 count, ItemPointerData *tids, ItemPointerData *links_tids,
			int64 *links_order, BlockNumber *last_block)
{
	int			dims = state->handle.info.dimensions;
	int			m = state->handle.info.m;
	Size		page_space = HNSW_MAX_TUPLE_SIZE + sizeof(ItemIdData);
	Size		whole = HnswElementSize(dims, m) + sizeof(ItemIdData);
	Size		apart = HnswVectorElementSize(dims) + sizeof(ItemIdData);
	Size		list = HnswLinksSize(m) + sizeof(ItemIdData);
	/* Lists a page of whole level-0 nodes has room for after them. */
	int64		absorbed = (page_space - (page_space / whole) * whole) / list;
	bool		keep_apart = absorbed > 0 && page_space / apart > page_space / whole;
	BlockNumber block = HNSW_METAPAGE_BLKNO;
	int64		next = 0,
				waiting = 0,	/* links_order[waiting..placed) have no place yet */
				placed = 0;

	while (next < count || waiting < placed)
	{
		int64		first = next;
		int64		whole_end;	/* nodes first..whole_end-1 keep their lists */
		Size		free_space = page_space;
		OffsetNumber offset = InvalidOffsetNumber;

		block++;
		if (keep_apart && placed - waiting < absorbed)
		{
			while (next < count && apart + upper_space(state, next) <= free_space)
				free_space -= apart + upper_space(state, next++);
			for (whole_end = first; whole_end < next && whole - apart <= free_space; whole_end++)
				free_space -= whole - apart;
		}
		else
		{
			while (next < count && whole + upper_space(state, next) <= free_space)
				free_space -= whole + upper_space(state, next++);
			whole_end = next;
		}
		for (int64 i = first; i < next; i++)
		{
			if (node_level(state, i) > 0)
				offset++;		/* the upper tuple, just before its element */
			offset++;
			ItemPointerSet(&tids[i], block, offset);
			ItemPointerSetInvalid(&links_tids[i]);
			if (i >= whole_end)
				links_order[placed++] = i;
		}
		for (; waiting < placed && list <= free_space; waiting++)
		{
			free_space -= list;
			ItemPointerSet(&links_tids[links_order[waiting]], block, ++offset);
		}
	}
	*last_block = block;
	return placed;
}

/* A layer-0 list of the built graph as slots: node numbers to TIDs, with
 * the links the build pinned (VECTORS_BUILD_PINNED) pinned. */
static void
write_built_slots(ItemPointerData *slots, const ItemPointerData *tids, const int64 *neighbors, int n)
{
	for (int k = 0; k < n; k++)
	{
		int64		target = neighbors[k] & ~VECTORS_BUILD_PINNED;

		slots[k] = tids[target];
		if (neighbors[k] & VECTORS_BUILD_PINNED)
			slots[k].ip_posid |= HNSW_SLOT_PINNED;
	}
}

/* Writes the lists kept apart that are placed before page `before`. */
static void
write_apart_lists(BuildState *state, Buffer *buffer, ItemPointerData *tids, ItemPointerData *links_tids,
				  int64 *links_order, int64 count, int64 *next, BlockNumber before)
{
	int			m = state->handle.info.m;
	HnswLinksHeader *links;
	int64	   *neighbors;

	if (*next >= count || ItemPointerGetBlockNumber(&links_tids[links_order[*next]]) >= before)
		return;
	links = palloc0(HnswLinksSize(m));
	neighbors = palloc(sizeof(int64) * 2 * m);
	for (; *next < count; (*next)++)
	{
		int64		node = links_order[*next];
		ItemPointer tid = &links_tids[node];
		Page		page;
		int			n;

		if (ItemPointerGetBlockNumber(tid) >= before)
			break;
		page = build_page(state->handle.index, buffer, ItemPointerGetBlockNumber(tid));
		memset(links, 0, HnswLinksSize(m));
		links->tag = HNSW_TAG_LINKS;
		links->owner = tids[node];
		n = vectors_build_neighbors(state->builder, node, 0, neighbors);
		write_built_slots(HnswLinksSlots(links), tids, neighbors, n);
		links->count = (uint16) n;
		add_placed(state->handle.index, page, links, HnswLinksSize(m), ItemPointerGetOffsetNumber(tid));
	}
	pfree(links);
	pfree(neighbors);
}

/*
 * Writes the in-memory graph: placement first (node number -> TID; see
 * place_nodes, or for external vectors each element followed by its
 * parts), then the pages themselves, in block order, with neighbour
 * numbers translated to TIDs.
 */
static void
write_graph(BuildState *state)
{
	Relation	index = state->handle.index;
	VectorsBuilder *builder = state->builder;
	int			dims = state->handle.info.dimensions;
	int			m = state->handle.info.m;
	int			parts = state->handle.parts;
	int64		count = vectors_build_count(builder);
	Size		element_size = hnsw_element_size(dims, m, parts);
	ItemPointerData *tids;
	ItemPointerData *part_tids = NULL;	/* parts of node i at [i * parts] */
	ItemPointerData *links_tids = NULL; /* lists kept apart (parts == 0) */
	int64	   *links_order = NULL;
	int64		links_count = 0,
				links_written = 0;
	BlockNumber last_block;
	int64	   *neighbors = palloc(sizeof(int64) * 2 * m);
	HnswElementHeader *element = palloc0(element_size);
	HnswUpperHeader *upper = palloc0(HnswUpperSize(HNSW_MAX_LEVEL, m));
	HnswPartHeader *part = parts > 0 ? palloc0(HnswPartSize(HNSW_PART_MAX_FLOATS)) : NULL;
	Buffer		buffer = InvalidBuffer;
	Page		page = NULL;
	int32		entry_level = 0;
	int64		entry;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, VECTORS_BUILD_PHASE_WRITE);
	tids = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ItemPointerData) * Max(count, 1));
	if (parts > 0)
	{
		PageCursor	cursor = {HNSW_METAPAGE_BLKNO, InvalidOffsetNumber, 0};

		part_tids = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ItemPointerData) * Max(count, 1) * parts);
		for (int64 i = 0; i < count; i++)
		{
			int			level = node_level(state, i);
			OffsetNumber first = place_tuples(&cursor, element_size + sizeof(ItemIdData) + upper_space(state, i),
											  level > 0 ? 2 : 1);

			ItemPointerSet(&tids[i], cursor.block, level > 0 ? OffsetNumberNext(first) : first);
			for (int k = 0; k < parts; k++)
			{
				OffsetNumber offset = place_tuples(&cursor, HnswPartSize(hnsw_part_floats(dims, k)) + sizeof(ItemIdData), 1);

				ItemPointerSet(&part_tids[i * parts + k], cursor.block, offset);
			}
		}
		last_block = cursor.block;
	}
	else
	{
		links_tids = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(ItemPointerData) * Max(count, 1));
		links_order = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * Max(count, 1));
		links_count = place_nodes(state, count, tids, links_tids, links_order, &last_block);
	}

	for (int64 i = 0; i < count; i++)
	{
		int			level = node_level(state, i);
		const float *vector = vectors_build_vector(builder, i);
		int			n;
		bool		apart = links_tids != NULL && ItemPointerIsValid(&links_tids[i]);

		if (i % 1024 == 0)
			CHECK_FOR_INTERRUPTS();
		/* Pages are written in order: first the lists placed before this page. */
		write_apart_lists(state, &buffer, tids, links_tids, links_order, links_count, &links_written,
						  ItemPointerGetBlockNumber(&tids[i]));
		page = build_page(index, &buffer, ItemPointerGetBlockNumber(&tids[i]));

		memset(element, 0, element_size);
		element->tag = HNSW_TAG_ELEMENT;
		element->level = (uint8) level;
		hnsw_u64_to_tid(vectors_build_heap_tid(builder, i), &element->heap_tid);
		ItemPointerSetInvalid(&element->upper_tid);
		if (parts == 0)
			memcpy(HnswElementVector(element), vector, sizeof(float) * dims);
		else
			memcpy(HnswElementParts(element, m), &part_tids[i * parts], sizeof(ItemPointerData) * parts);
		if (apart)
		{
			element->flags |= HNSW_ELEMENT_LINKS_APART;
			element->links_tid = links_tids[i];
		}
		else
		{
			n = vectors_build_neighbors(builder, i, 0, neighbors);
			write_built_slots(HnswElementSlots(element, state->handle.inline_dimensions), tids, neighbors, n);
			element->count0 = (uint16) n;
		}

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
			add_placed(index, page, upper, upper_size, ItemPointerGetOffsetNumber(&tids[i]) - 1);
			ItemPointerSet(&element->upper_tid, ItemPointerGetBlockNumber(&tids[i]),
						   ItemPointerGetOffsetNumber(&tids[i]) - 1);
		}
		add_placed(index, page, element, apart ? HnswVectorElementSize(dims) : element_size,
				   ItemPointerGetOffsetNumber(&tids[i]));

		for (int k = 0; k < parts; k++)
		{
			ItemPointer tid = &part_tids[i * parts + k];
			int			floats = hnsw_part_floats(dims, k);

			page = build_page(index, &buffer, ItemPointerGetBlockNumber(tid));
			part->tag = HNSW_TAG_PART;
			part->index = (uint16) k;
			part->owner = tids[i];
			memcpy(HnswPartVector(part), vector + k * HNSW_PART_MAX_FLOATS, sizeof(float) * floats);
			add_placed(index, page, part, HnswPartSize(floats), ItemPointerGetOffsetNumber(tid));
		}
	}
	write_apart_lists(state, &buffer, tids, links_tids, links_order, links_count, &links_written,
					  InvalidBlockNumber);
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
			meta->entry_level = (uint8) Min(entry_level, state->handle.max_level);
		}
		meta->last_block = count > 0 ? last_block : InvalidBlockNumber;
	}
	MarkBufferDirty(buffer);
	UnlockReleaseBuffer(buffer);
	pfree(tids);
	if (part_tids)
		pfree(part_tids);
	if (links_tids)
	{
		pfree(links_tids);
		pfree(links_order);
	}
	if (part)
		pfree(part);
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
		status = vectors_build_link(state->builder, state->threads, interrupt_pending, &error);
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
			VectorsError error;

			hnsw_check_status(&state->handle,
							  vectors_build_add(state->builder, state->prepared, hnsw_tid_to_u64(tid), &error),
							  &error);
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
	VectorsError error;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	index_info.dimensions = index_dimensions(index);
	index_info.metric = hnsw_metric(index);
	hnsw_read_options(index, &index_info.m, &index_info.ef_construction, &state->threads);
	/* The leader plus max_parallel_maintenance_workers threads, the setting
	 * PostgreSQL's own parallel index builds follow, unless the index's
	 * options say (pgvecto.rs's optimizing_threads). */
	if (state->threads == 0)
		state->threads = max_parallel_maintenance_workers + 1;
	hnsw_write_metapage(index, MAIN_FORKNUM, &index_info, false);
	hnsw_handle_init(&state->handle, index);

	state->build_context = CurrentMemoryContext;
	state->tuple_context = AllocSetContextCreate(CurrentMemoryContext, "vectors build tuple", ALLOCSET_DEFAULT_SIZES);
	state->prepared = palloc(sizeof(float) * index_info.dimensions);
	state->memory_limit = (Size) maintenance_work_mem * 1024;
	hnsw_check_status(&state->handle, vectors_build_new(&index_info, &state->builder, &error), &error);
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
	hnsw_read_options(index, &info.m, &info.ef_construction, NULL);
	hnsw_write_metapage(index, INIT_FORKNUM, &info, true);
}
