/*
 * hnsw_vacuum.c: VACUUM in four passes.
 *
 *  1. mark:   elements whose heap row is dead get the DELETED flag (scans
 *             stop returning them at once; the graph still routes through them);
 *  2. repair: under the write lock, every live node that links to a deleted
 *             one gets new neighbours (Swift: HNSW repairNeighbors), and a
 *             deleted entry point is replaced;
 *  3. free:   deleted elements, now unreachable, are removed from their
 *             pages without moving other tuples; the free space map offers
 *             the space to later inserts;
 *  4. reconnect: live nodes no layer-0 path from the entry point reaches
 *             any more (their referrers were deleted) get a pinned link
 *             from a reachable node; then every node whose pinned path
 *             went through a freed node gets a new one (pin_paths; hnsw.h,
 *             "Pinned links").
 *
 * Pass 3 first frees the deleted elements' layer-0 lists kept apart
 * (links tuples, see hnsw_build.c), then the elements.
 *
 * In an index with external vectors, pass 3 also frees the parts of the
 * freed elements, and parts no element names (an insert that crashed
 * between writing its parts and its element): pass 1 notes every part and
 * every part an element names; the difference is checked again, and freed,
 * under the write lock, when no insert can be between the two steps.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "utils/rel.h"

#include "hnsw.h"

#if PG_VERSION_NUM >= 180000
/* PostgreSQL 18 added an is_analyze argument; the call sites stay as written. */
#define vacuum_delay_point() vacuum_delay_point(false)
#endif

/* Called by Swift during repair: a plain lookup, no PostgreSQL calls. */
static bool
node_set_contains(void *context, VectorsNode node)
{
	return hnsw_node_set_contains((NodeSet *) context, node);
}

static HnswElementHeader *
element_at(VectorsIndexHandle *handle, Page page, BlockNumber block, OffsetNumber offset)
{
	return hnsw_tuple_on_page(handle, page, block, offset, HNSW_TAG_ELEMENT);
}

/* The vector parts pass 1 saw and the ones elements named (TIDs as u64). */
typedef struct PartCensus
{
	int			parts;			/* per element; 0: the index has no parts */
	int			m;
	NodeSet		seen;
	NodeSet		named;
} PartCensus;

static void
census_page(VectorsIndexHandle *handle, PartCensus *census, Page page, BlockNumber block)
{
	for (OffsetNumber offset = FirstOffsetNumber; offset <= PageGetMaxOffsetNumber(page); offset++)
	{
		HnswElementHeader *element = element_at(handle, page, block, offset);

		if (element != NULL)
			for (int k = 0; k < census->parts; k++)
				hnsw_node_set_add(&census->named, hnsw_tid_to_u64(&HnswElementParts(element, census->m)[k]));
		else if (hnsw_tuple_on_page(handle, page, block, offset, HNSW_TAG_PART) != NULL)
			hnsw_node_set_add(&census->seen, hnsw_node(block, offset));
	}
}

/* Pass 1. Returns the highest-level live node seen (0 if none) and its level. */
static VectorsNode
mark_deleted(IndexVacuumInfo *info, VectorsIndexHandle *handle, IndexBulkDeleteResult *stats,
			 IndexBulkDeleteCallback callback, void *callback_state, NodeSet *deleted, NodeSet *apart_links,
			 int *best_level_out, PartCensus *census)
{
	Relation	index = info->index;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	VectorsNode best = 0;
	int			best_level = -1;
	OffsetNumber *dead = palloc(sizeof(OffsetNumber) * MaxOffsetNumber);

	for (BlockNumber block = HNSW_METAPAGE_BLKNO + 1; block < nblocks; block++)
	{
		Buffer		buffer;
		Page		page;
		int			ndead = 0;

		vacuum_delay_point();
		buffer = ReadBufferExtended(index, MAIN_FORKNUM, block, RBM_NORMAL, info->strategy);
		LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buffer);
		if (PageIsNew(page))
		{
			UnlockReleaseBuffer(buffer);
			continue;
		}
		/* Every tuple, lists and part TIDs included, is checked once here:
		 * the later passes then walk only what this one accepted. */
		hnsw_check_page(handle, page, block);
		for (OffsetNumber offset = FirstOffsetNumber; offset <= PageGetMaxOffsetNumber(page); offset++)
			hnsw_check_tuple(handle, page, block, offset);
		if (census->parts > 0)
			census_page(handle, census, page, block);
		for (OffsetNumber offset = FirstOffsetNumber; offset <= PageGetMaxOffsetNumber(page); offset++)
		{
			HnswElementHeader *element = element_at(handle, page, block, offset);

			if (element == NULL)
				continue;
			if (element->flags & HNSW_ELEMENT_DELETED)
				;				/* from an interrupted VACUUM */
			else if (callback(&element->heap_tid, callback_state))
			{
				dead[ndead++] = offset;
				stats->tuples_removed++;
			}
			else
			{
				stats->num_index_tuples++;
				if (element->level > best_level)
				{
					best_level = element->level;
					best = hnsw_node(block, offset);
				}
				continue;
			}
			hnsw_node_set_add(deleted, hnsw_node(block, offset));
			if (element->flags & HNSW_ELEMENT_LINKS_APART)
				hnsw_node_set_add(apart_links, hnsw_tid_to_u64(&element->links_tid));
		}
		if (ndead > 0)
		{
			GenericXLogState *state = GenericXLogStart(index);
			Page		copy = GenericXLogRegisterBuffer(state, buffer, 0);

			for (int i = 0; i < ndead; i++)
				element_at(handle, copy, block, dead[i])->flags |= HNSW_ELEMENT_DELETED;
			GenericXLogFinish(state);
		}
		UnlockReleaseBuffer(buffer);
	}
	pfree(dead);
	*best_level_out = Max(best_level, 0);
	return best;
}

/* Pass 2: relink live nodes around the deleted ones. */
static void
repair(IndexVacuumInfo *info, VectorsIndexHandle *handle, NodeSet *deleted, VectorsNode best_live,
	   int best_level)
{
	Relation	index = info->index;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	HnswMetaPageData meta;
	VectorsNode *live = palloc(sizeof(VectorsNode) * MaxOffsetNumber);
	VectorsStatus status = VECTORS_OK;
	VectorsError error;

	hnsw_handle_read_metapage(handle, &meta);
	if (meta.entry_block != InvalidBlockNumber &&
		node_set_contains(deleted, hnsw_node(meta.entry_block, meta.entry_offset)))
	{
		status = vectors_page_set_entry(handle, best_live, best_level);
		hnsw_check_status(handle, status, &error);
	}

	for (BlockNumber block = HNSW_METAPAGE_BLKNO + 1; block < nblocks; block++)
	{
		Buffer		buffer;
		Page		page;
		int			nlive = 0;

		vacuum_delay_point();
		buffer = ReadBufferExtended(index, MAIN_FORKNUM, block, RBM_NORMAL, info->strategy);
		LockBuffer(buffer, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buffer);
		if (!PageIsNew(page))
		{
			for (OffsetNumber offset = FirstOffsetNumber; offset <= PageGetMaxOffsetNumber(page); offset++)
			{
				HnswElementHeader *element = element_at(handle, page, block, offset);

				if (element != NULL && !(element->flags & HNSW_ELEMENT_DELETED))
					live[nlive++] = hnsw_node(block, offset);
			}
		}
		UnlockReleaseBuffer(buffer);

		for (int i = 0; i < nlive; i++)
		{
			bool		changed = false;

			status = vectors_hnsw_repair(handle, &handle->info, live[i], node_set_contains, deleted,
										 &changed, &error);
			hnsw_check_status(handle, status, &error);
		}
	}
	pfree(live);
}

/*
 * Visits the pages of a sorted node set one at a time: locks each page,
 * calls `free_tuple` for every node of the set on it, then WAL-logs the page
 * and records its free space.
 */
typedef void (*FreeTupleFunction) (VectorsIndexHandle *handle, Page page, BlockNumber block, OffsetNumber offset,
								   void *arg);

static void
free_on_pages(IndexVacuumInfo *info, VectorsIndexHandle *handle, NodeSet *nodes, FreeTupleFunction free_tuple,
			  void *arg)
{
	Relation	index = info->index;
	int64		i = 0;

	while (i < nodes->count)
	{
		BlockNumber block = hnsw_node_block(nodes->nodes[i]);
		Buffer		buffer;
		GenericXLogState *state;
		Page		page;

		vacuum_delay_point();
		buffer = ReadBufferExtended(index, MAIN_FORKNUM, block, RBM_NORMAL, info->strategy);
		LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buffer, 0);
		for (; i < nodes->count && hnsw_node_block(nodes->nodes[i]) == block; i++)
			free_tuple(handle, page, block, hnsw_node_offset(nodes->nodes[i]), arg);
		GenericXLogFinish(state);
		RecordPageWithFreeSpace(index, block, PageGetFreeSpace(BufferGetPage(buffer)));
		UnlockReleaseBuffer(buffer);
	}
}

typedef struct FreeElementsArg
{
	PartCensus *census;
	NodeSet    *parts;			/* the freed elements' parts, to free next */
} FreeElementsArg;

static void
free_element(VectorsIndexHandle *handle, Page page, BlockNumber block, OffsetNumber offset, void *arg)
{
	FreeElementsArg *free_arg = (FreeElementsArg *) arg;
	HnswElementHeader *element = element_at(handle, page, block, offset);

	if (element == NULL || !(element->flags & HNSW_ELEMENT_DELETED))
		return;
	/* Before any delete: deleting moves the other tuples' data. */
	for (int k = 0; k < free_arg->census->parts; k++)
		hnsw_node_set_add(free_arg->parts, hnsw_tid_to_u64(&HnswElementParts(element, free_arg->census->m)[k]));
	/* An element's upper tuple is always stored on the element's page
	 * (hnsw_tuple_on_page checked that). */
	if (element->level > 0 &&
		hnsw_upper_on_page(handle, page, &element->upper_tid, element->level) != NULL)
		PageIndexTupleDeleteNoCompact(page, ItemPointerGetOffsetNumber(&element->upper_tid));
	PageIndexTupleDeleteNoCompact(page, offset);
}

/* Pass 3: remove the deleted (now unlinked) elements and their upper
 * tuples; their vector parts are added to `parts` to be freed next. */
static void
free_deleted(IndexVacuumInfo *info, VectorsIndexHandle *handle, NodeSet *deleted, PartCensus *census,
			 NodeSet *parts)
{
	FreeElementsArg arg = {census, parts};

	free_on_pages(info, handle, deleted, free_element, &arg);
}

/*
 * Frees a deleted element's layer-0 list kept apart. Runs before the
 * elements are freed: a crash in between leaves deleted elements without
 * their lists (never read again: nothing links to them), which the next
 * VACUUM frees; the reverse order could leave lists no element names. Only
 * CREATE INDEX writes links tuples, so a slot that holds one still holds
 * the list the element named.
 */
static void
free_links(VectorsIndexHandle *handle, Page page, BlockNumber block, OffsetNumber offset, void *arg)
{
	if (hnsw_tuple_on_page(handle, page, block, offset, HNSW_TAG_LINKS) != NULL)
		PageIndexTupleDeleteNoCompact(page, offset);
}

static void
free_part(VectorsIndexHandle *handle, Page page, BlockNumber block, OffsetNumber offset, void *arg)
{
	if (hnsw_tuple_on_page(handle, page, block, offset, HNSW_TAG_PART) != NULL)
		PageIndexTupleDeleteNoCompact(page, offset);
}

/* Parts pass 1 saw that no element named then: candidates for freeing. */
static void
unnamed_parts(PartCensus *census, NodeSet *out)
{
	int64		j = 0;

	hnsw_node_set_sort(&census->seen);
	hnsw_node_set_sort(&census->named);
	for (int64 i = 0; i < census->seen.count; i++)
	{
		while (j < census->named.count && census->named.nodes[j] < census->seen.nodes[i])
			j++;
		if (j == census->named.count || census->named.nodes[j] != census->seen.nodes[i])
			hnsw_node_set_add(out, census->seen.nodes[i]);
	}
}

/*
 * Whether the part at `tid` is still named by its owner element. Reads the
 * part's page, then the owner's, one lock at a time. A slot that no longer
 * holds a part counts as named (there is nothing to free).
 */
static bool
part_is_named(IndexVacuumInfo *info, VectorsIndexHandle *handle, PartCensus *census, VectorsNode tid_node)
{
	ItemPointerData tid;
	ItemPointerData owner;
	HnswPartHeader *part;
	HnswElementHeader *element;
	Buffer		buffer;
	int			index = 0;
	bool		named = false;

	hnsw_u64_to_tid(tid_node, &tid);
	buffer = ReadBufferExtended(info->index, MAIN_FORKNUM, ItemPointerGetBlockNumber(&tid), RBM_NORMAL, info->strategy);
	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	part = hnsw_tuple_on_page(handle, BufferGetPage(buffer), ItemPointerGetBlockNumber(&tid),
							  ItemPointerGetOffsetNumber(&tid), HNSW_TAG_PART);
	if (part != NULL)
	{
		owner = part->owner;
		index = part->index;
	}
	UnlockReleaseBuffer(buffer);
	if (part == NULL)
		return true;
	if (!ItemPointerIsValid(&owner) || ItemPointerGetBlockNumber(&owner) == HNSW_METAPAGE_BLKNO ||
		!hnsw_block_exists(handle, ItemPointerGetBlockNumber(&owner)) || index >= census->parts)
		return false;

	buffer = ReadBufferExtended(info->index, MAIN_FORKNUM, ItemPointerGetBlockNumber(&owner), RBM_NORMAL, info->strategy);
	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	if (!PageIsNew(BufferGetPage(buffer)))
	{
		element = element_at(handle, BufferGetPage(buffer), ItemPointerGetBlockNumber(&owner),
							 ItemPointerGetOffsetNumber(&owner));
		named = element != NULL && ItemPointerEquals(&HnswElementParts(element, census->m)[index], &tid);
	}
	UnlockReleaseBuffer(buffer);
	return named;
}

/*
 * Pass 3, parts: frees those of `candidates` that no element names, page by
 * page. Runs under the write lock: no insert is between writing its parts
 * and its element, so an unnamed part is garbage for good.
 */
static void
free_parts(IndexVacuumInfo *info, VectorsIndexHandle *handle, PartCensus *census, NodeSet *candidates)
{
	NodeSet		doomed = {0};

	hnsw_node_set_sort(candidates);
	for (int64 c = 0; c < candidates->count; c++)
	{
		vacuum_delay_point();
		if (!part_is_named(info, handle, census, candidates->nodes[c]))
			hnsw_node_set_add(&doomed, candidates->nodes[c]);
	}
	free_on_pages(info, handle, &doomed, free_part, NULL);
	if (doomed.nodes)
		pfree(doomed.nodes);
}

/* Marks what pinned layer-0 links reach from elements[start]. */
static void
mark_pinned_from(HnswGraphScan *graph, int64 start, bool *reached, int64 *stack)
{
	int64		depth = 0;

	if (reached[start])
		return;
	reached[start] = true;
	stack[depth++] = start;
	while (depth > 0)
	{
		CheckedElement *e = &graph->elements[stack[--depth]];

		for (int i = 0; i < e->layer0_links; i++)
		{
			int64		target;

			if (!graph->link_pinned[e->first_link + i])
				continue;
			target = hnsw_scan_find(graph, graph->links[e->first_link + i]);
			if (target >= 0 && !reached[target])
			{
				reached[target] = true;
				stack[depth++] = target;
			}
		}
	}
}

/*
 * Pins a path from the entry point to every node (hnsw.h, "Pinned
 * links"), when every node is reachable: a walk over pinned links marks
 * what they reach; a breadth-first walk over all layer-0 links then pins,
 * at each node the first walk missed, the link it was found through (its
 * finder is reached by pinned links by then, being found earlier), and
 * marks what that node's own pinned links reach. Freeing deleted nodes
 * cuts pinned paths; this restores them, and gives indexes built before
 * pins existed their pins.
 */
static void
pin_paths(VectorsIndexHandle *handle, HnswGraphScan *graph)
{
	HnswMetaPageData meta;
	int64		entry;
	bool	   *pinned_reach;
	bool	   *found;
	int64	   *queue;
	int64	   *stack;
	int64		head = 0,
				tail = 0,
				pinned_now = 0;

	hnsw_read_metapage(handle->index, &meta);
	if (meta.entry_block == InvalidBlockNumber || graph->count == 0)
		return;
	entry = hnsw_scan_find(graph, hnsw_node(meta.entry_block, meta.entry_offset));
	if (entry < 0)
		return;
	pinned_reach = palloc0(sizeof(bool) * graph->count);
	found = palloc0(sizeof(bool) * graph->count);
	queue = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * graph->count);
	stack = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * graph->count);
	mark_pinned_from(graph, entry, pinned_reach, stack);
	found[entry] = true;
	queue[tail++] = entry;
	while (head < tail)
	{
		CheckedElement *e = &graph->elements[queue[head++]];

		for (int i = 0; i < e->layer0_links; i++)
		{
			int64		target = hnsw_scan_find(graph, graph->links[e->first_link + i]);
			VectorsError error;
			VectorsStatus status;
			bool		pinned;

			if (target < 0 || found[target])
				continue;
			found[target] = true;
			queue[tail++] = target;
			if (pinned_reach[target])
				continue;
			vacuum_delay_point();
			status = vectors_page_pin(handle, e->node, graph->elements[target].node, &pinned);
			hnsw_check_status(handle, status, &error);
			if (pinned)
			{
				graph->link_pinned[e->first_link + i] = true;
				pinned_now++;
			}
			mark_pinned_from(graph, target, pinned_reach, stack);
		}
	}
	elog(DEBUG1, "vectors: pinned %lld links", (long long) pinned_now);
	pfree(pinned_reach);
	pfree(found);
	pfree(queue);
	pfree(stack);
}

static void
free_graph_scan(HnswGraphScan *graph)
{
	pfree(graph->elements);
	pfree(graph->links);
	pfree(graph->link_pinned);
	if (graph->part_owners)
	{
		pfree(graph->part_owners);
		pfree(graph->part_tids);
	}
}

/*
 * Pass 4: rounds until no live node is unreachable, then pin_paths. A
 * reconnection links a node from a reachable one and drops no pinned link,
 * so one round usually suffices; a round that reconnects nothing ends it.
 */
#define HNSW_RECONNECT_ROUNDS	10

static void
reconnect_unreachable(VectorsIndexHandle *handle)
{
	for (int pass = 0; pass < HNSW_RECONNECT_ROUNDS; pass++)
	{
		HnswGraphScan graph;
		int64		reconnected = 0;

		hnsw_scan_graph(handle->index, &graph);
		for (int64 i = 0; i < graph.count; i++)
		{
			VectorsError error;
			VectorsStatus status;

			if (graph.elements[i].reached || graph.elements[i].deleted)
				continue;
			vacuum_delay_point();
			status = vectors_hnsw_reconnect(handle, &handle->info, graph.elements[i].node, &error);
			hnsw_check_status(handle, status, &error);
			reconnected++;
		}
		elog(DEBUG1, "vectors: reconnect round %d: %lld unreachable", pass, (long long) reconnected);
		if (reconnected == 0)
			pin_paths(handle, &graph);
		free_graph_scan(&graph);
		if (reconnected == 0)
			break;
	}
}

IndexBulkDeleteResult *
hnsw_bulk_delete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
				 IndexBulkDeleteCallback callback, void *callback_state)
{
	VectorsIndexHandle handle;
	NodeSet		deleted = {0};
	NodeSet		parts = {0};	/* to free if no element names them */
	NodeSet		apart_links = {0};	/* the deleted elements' lists kept apart */
	PartCensus	census = {0};
	VectorsNode best_live;
	int			best_level;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	hnsw_handle_init(&handle, info->index);
	census.parts = handle.parts;
	census.m = handle.info.m;

	best_live = mark_deleted(info, &handle, stats, callback, callback_state, &deleted, &apart_links, &best_level,
							 &census);
	unnamed_parts(&census, &parts);
	if (deleted.count == 0 && parts.count == 0)
		return stats;
	if (deleted.count > 0)
		qsort(deleted.nodes, deleted.count, sizeof(VectorsNode), hnsw_compare_u64);

	LockPage(info->index, HNSW_WRITE_LOCK, ExclusiveLock);
	if (deleted.count > 0)
	{
		repair(info, &handle, &deleted, best_live, best_level);
		hnsw_node_set_sort(&apart_links);
		free_on_pages(info, &handle, &apart_links, free_links, NULL);
		free_deleted(info, &handle, &deleted, &census, &parts);
	}
	/* Elements first, then their parts: a crash in between leaves only
	 * unnamed parts, never an element naming freed ones. */
	if (parts.count > 0)
		free_parts(info, &handle, &census, &parts);
	if (deleted.count > 0)
		reconnect_unreachable(&handle);
	UnlockPage(info->index, HNSW_WRITE_LOCK, ExclusiveLock);

	stats->pages_deleted = 0;
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}

IndexBulkDeleteResult *
hnsw_vacuum_cleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		/* No bulk delete ran: nothing changed; report the heap's count. */
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		stats->num_index_tuples = info->num_heap_tuples;
		stats->estimated_count = info->estimated_count;
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	IndexFreeSpaceMapVacuum(info->index);
	return stats;
}
