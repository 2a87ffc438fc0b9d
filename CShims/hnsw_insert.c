/*
 * hnsw_insert.c: INSERT and UPDATE. Writers take a heavyweight lock on the
 * index (HNSW_WRITE_LOCK) for the whole insertion, so the read-modify-write
 * of neighbour lists never loses a concurrent update; readers take only
 * buffer locks and always see whole page changes.
 */
#include "postgres.h"

#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw.h"

/* Inserts one (non-NULL) vector; the caller's handle names the index. */
void
hnsw_insert_vector(VectorsIndexHandle *handle, Vector *vector, ItemPointer heap_tid)
{
	float	   *prepared = palloc(sizeof(float) * handle->info.dimensions);
	int			level;
	VectorsNode node;
	VectorsError error;
	VectorsStatus status;

	if (vector->dim != handle->info.dimensions)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector has %d dimensions, index \"%s\" expects %d",
						vector->dim, RelationGetRelationName(handle->index), handle->info.dimensions)));
	/* A zero vector has no direction: a cosine index leaves it out. */
	if (!vectors_prepare(handle->info.metric, vector->x, vector->dim, prepared))
		return;
	level = Min(vectors_random_level(handle->info.m), handle->max_level);

	LockPage(handle->index, HNSW_WRITE_LOCK, ExclusiveLock);
	node = hnsw_add_element(handle, prepared, level, heap_tid);
	status = vectors_hnsw_insert(handle, &handle->info, node, prepared, level, &error);
	UnlockPage(handle->index, HNSW_WRITE_LOCK, ExclusiveLock);
	hnsw_check_status(handle, status, &error);
	pfree(prepared);
}

bool
hnsw_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
			IndexUniqueCheck check_unique, bool index_unchanged, IndexInfo *info)
{
	MemoryContext context;
	MemoryContext old;
	VectorsIndexHandle handle;

	if (isnull[0])
		return false;
	context = AllocSetContextCreate(CurrentMemoryContext, "vectors insert", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(context);
	hnsw_handle_init(&handle, index);
	hnsw_insert_vector(&handle, DatumGetVectorP(values[0]), heap_tid);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(context);
	return false;
}
