/*
 * hnsw_am.c: the `vectors` index access method's handler, options,
 * settings (GUCs), planner cost estimate and operator class validation.
 */
#include "postgres.h"

#include <math.h>

#include "access/amvalidate.h"
#include "access/reloptions.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "optimizer/paths.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/regproc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

#include "hnsw.h"

int			vectors_ef_search = VECTORS_HNSW_DEFAULT_EF_SEARCH;
int			vectors_search_mode;
int			vectors_vbase_memory_multiplier = 4;
bool		vectors_enable_index = true;

/*
 * Settings pgvecto.rs 0.2-0.4 had, accepted so that its users' SQL runs
 * unchanged (immich sends SET LOCAL vectors.enable_prefilter = on inside a
 * transaction: an unknown name under the reserved prefix would abort it).
 * What each means here is in docs/INDEX.md, "Settings from pgvecto.rs";
 * those for index kinds this extension does not have yet change nothing.
 */
static bool vectors_enable_prefilter = false;
static int	vectors_ivf_nprobe = VECTORS_DEFAULT_IVF_NPROBE;
static int	vectors_sq_rerank_size = 0;
static int	vectors_pq_rerank_size = 0;
static int	vectors_rq_rerank_size = 0;
static bool vectors_sq_fast_scan = false;
static bool vectors_pq_fast_scan = false;
static bool vectors_rq_fast_scan = true;

static void
define_accepted_settings(void)
{
	struct
	{
		const char *name;
		const char *description;
		int		   *value;
		int			min;
		int			max;
	}			integers[] = {
		{VECTORS_GUC_IVF_NPROBE, "Lists an IVF index scan visits (pgvecto.rs; no IVF index yet).",
		&vectors_ivf_nprobe, 1, VECTORS_MAX_IVF_NPROBE},
		{"vectors.sq_rerank_size", "Candidates re-ranked after a scalar-quantized search, 0 = automatic (pgvecto.rs; no quantized index yet).",
		&vectors_sq_rerank_size, 0, VECTORS_MAX_RERANK_SIZE},
		{"vectors.pq_rerank_size", "Candidates re-ranked after a product-quantized search, 0 = automatic (pgvecto.rs; no quantized index yet).",
		&vectors_pq_rerank_size, 0, VECTORS_MAX_RERANK_SIZE},
		{"vectors.rq_rerank_size", "Candidates re-ranked after a RaBitQ search, 0 = automatic (pgvecto.rs; no quantized index yet).",
		&vectors_rq_rerank_size, 0, VECTORS_MAX_RERANK_SIZE},
	};
	struct
	{
		const char *name;
		const char *description;
		bool	   *value;
	}			booleans[] = {
		{"vectors.enable_prefilter", "pgvecto.rs's prefiltering; here every scan streams rows and the executor filters them (vbase), so no row a filter accepts is lost either way.",
		&vectors_enable_prefilter},
		{"vectors.sq_fast_scan", "Fast scan of scalar-quantized codes (pgvecto.rs; no quantized index yet).", &vectors_sq_fast_scan},
		{"vectors.pq_fast_scan", "Fast scan of product-quantized codes (pgvecto.rs; no quantized index yet).", &vectors_pq_fast_scan},
		{"vectors.rq_fast_scan", "Fast scan of RaBitQ codes (pgvecto.rs; no quantized index yet).", &vectors_rq_fast_scan},
	};

	for (int i = 0; i < lengthof(integers); i++)
		DefineCustomIntVariable(integers[i].name, integers[i].description, NULL, integers[i].value,
								*integers[i].value, integers[i].min, integers[i].max, PGC_USERSET, 0,
								NULL, NULL, NULL);
	for (int i = 0; i < lengthof(booleans); i++)
		DefineCustomBoolVariable(booleans[i].name, booleans[i].description, NULL, booleans[i].value,
								 *booleans[i].value, PGC_USERSET, 0, NULL, NULL, NULL);
}

static relopt_kind hnsw_relopt_kind;

static const struct config_enum_entry search_modes[] = {
	{"basic", VECTORS_SEARCH_BASIC, false},
	{"vbase", VECTORS_SEARCH_VBASE, false},
	{NULL, 0, false}
};

/* Rejects a bad `options` string when the index is created or altered. */
static void
validate_options_string(const char *value)
{
	int32_t		m = VECTORS_HNSW_DEFAULT_M;
	int32_t		ef_construction = VECTORS_HNSW_DEFAULT_EF_CONSTRUCTION;
	int32_t		threads = 0;
	VectorsError error;
	VectorsStatus status;

	if (value == NULL)
		return;
	status = vectors_parse_index_options(value, &m, &ef_construction, &threads, &error);
	if (status != VECTORS_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_internal("%s", error.message),
				 error.detail[0] ? errdetail_internal("%s", error.detail) : 0));
}

void
hnsw_init(void)
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m", "Neighbours per graph node (layer 0 keeps twice as many)",
					  VECTORS_HNSW_DEFAULT_M, VECTORS_HNSW_MIN_M, VECTORS_HNSW_MAX_M, AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction", "Search breadth while building the graph",
					  VECTORS_HNSW_DEFAULT_EF_CONSTRUCTION, VECTORS_HNSW_MIN_EF_CONSTRUCTION,
					  VECTORS_HNSW_MAX_EF_CONSTRUCTION, AccessExclusiveLock);
	add_string_reloption(hnsw_relopt_kind, "options",
						 "Index options in pgvecto.rs's TOML form ([indexing.hnsw] m, ef_construction)",
						 NULL, validate_options_string, AccessExclusiveLock);

	DefineCustomIntVariable(VECTORS_GUC_HNSW_EF_SEARCH,
							"Search breadth of HNSW index scans (candidates kept per query).",
							"In basic mode also the most rows one index scan returns.",
							&vectors_ef_search, VECTORS_HNSW_DEFAULT_EF_SEARCH,
							VECTORS_HNSW_MIN_EF_SEARCH, VECTORS_HNSW_MAX_EF_SEARCH,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable(VECTORS_GUC_SEARCH_MODE,
							 "How HNSW index scans produce rows: basic or vbase.",
							 "basic returns at most vectors.hnsw_ef_search rows; vbase streams rows until the query stops asking.",
							 &vectors_search_mode, VECTORS_SEARCH_VBASE, search_modes,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("vectors.vbase_memory_multiplier",
							"Memory of one vbase index scan's graph stream, in multiples of work_mem.",
							"A scan that reaches it returns the remaining rows from one sorted pass over the index.",
							&vectors_vbase_memory_multiplier, 4, 1, 1000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("vectors.enable_index",
							 "Lets the planner use vectors index scans (pgvecto.rs's setting).",
							 "Off: the planner uses any other plan it can, as with enable_indexscan.",
							 &vectors_enable_index, true, PGC_USERSET, 0, NULL, NULL, NULL);
	define_accepted_settings();
	compat_init();
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("vectors");
#else
	EmitWarningsOnPlaceholders("vectors");
#endif
}

static bytea *
hnsw_options(Datum reloptions, bool validate)
{
	static const relopt_parse_elt table[] = {
		{"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
		{"ef_construction", RELOPT_TYPE_INT, offsetof(HnswOptions, ef_construction)},
		{"options", RELOPT_TYPE_STRING, offsetof(HnswOptions, options_offset)},
	};

	return (bytea *) build_reloptions(reloptions, validate, hnsw_relopt_kind, sizeof(HnswOptions),
									  table, lengthof(table));
}

/*
 * The effective m and ef_construction of an index: plain reloptions, then
 * the TOML `options` string. A key given both ways is an error, so the two
 * spellings can never silently disagree.
 */
void
hnsw_read_options(Relation index, int *m, int *ef_construction, int *build_threads)
{
	HnswOptions *options = (HnswOptions *) index->rd_options;
	int32_t		threads = 0;

	*m = VECTORS_HNSW_DEFAULT_M;
	*ef_construction = VECTORS_HNSW_DEFAULT_EF_CONSTRUCTION;
	if (build_threads)
		*build_threads = 0;
	if (options == NULL)
		return;
	*m = options->m;
	*ef_construction = options->ef_construction;
	if (options->options_offset != 0)
	{
		const char *text = (const char *) options + options->options_offset;
		int32_t		toml_m = -1;
		int32_t		toml_ef = -1;
		VectorsError error;
		VectorsStatus status = vectors_parse_index_options(text, &toml_m, &toml_ef, &threads, &error);

		if (status != VECTORS_OK)
			vectors_raise(status, &error);
		if (build_threads)
			*build_threads = threads;
		if (toml_m != -1)
		{
			if (*m != VECTORS_HNSW_DEFAULT_M && *m != toml_m)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("index option m is given twice: m = %d and options m = %d", *m, toml_m)));
			*m = toml_m;
		}
		if (toml_ef != -1)
		{
			if (*ef_construction != VECTORS_HNSW_DEFAULT_EF_CONSTRUCTION && *ef_construction != toml_ef)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("index option ef_construction is given twice: ef_construction = %d and options ef_construction = %d",
								*ef_construction, toml_ef)));
			*ef_construction = toml_ef;
		}
	}
}

/*
 * The index can only produce rows in distance order, so without an ORDER BY
 * on its operator it is useless: infinite cost. Otherwise the first search
 * visits roughly ef_search * m index tuples before the first row comes out
 * (that is the startup cost) and yields ef_search rows.
 *
 * In basic mode that is all (total = startup). In vbase mode the scan can go
 * on through the whole table, each further row costing about what a row of
 * the first search cost, so total = startup * rows / ef_search. The planner
 * charges a LIMIT the fraction of total that the expected rows need: with a
 * WHERE clause of selectivity s, LIMIT k needs k / s rows from the index.
 * A very selective filter thus makes the index scan expensive, and the
 * planner prefers an exact plan (sequential or bitmap scan, then sort) that
 * reads only the qualifying rows, instead of walking most of the graph.
 */
static void
hnsw_cost_estimate(PlannerInfo *root, IndexPath *path, double loop_count, Cost *startup_cost,
				   Cost *total_cost, Selectivity *selectivity, double *correlation, double *pages)
{
	GenericCosts costs;
	double		tuples = path->indexinfo->tuples;
	int			m = VECTORS_HNSW_DEFAULT_M;
	int			ef_construction;

	/* vectors.enable_index = off: like enable_indexscan = off, a cost any
	 * other plan beats. */
	if (path->indexorderbys == NIL || !vectors_enable_index)
	{
		*startup_cost = get_float8_infinity();
		*total_cost = get_float8_infinity();
		*selectivity = 0;
		*correlation = 0;
		*pages = 0;
		return;
	}
	{
		Relation	index = index_open(path->indexinfo->indexoid, NoLock);

		hnsw_read_options(index, &m, &ef_construction, NULL);
		index_close(index, NoLock);
	}

	MemSet(&costs, 0, sizeof(costs));
	costs.numIndexTuples = Min(Max(tuples, 1.0), (double) vectors_ef_search * m);
	genericcostestimate(root, path, loop_count, &costs);
	*startup_cost = costs.indexTotalCost;
	*total_cost = costs.indexTotalCost;
	if (vectors_search_mode == VECTORS_SEARCH_VBASE && tuples > vectors_ef_search)
		*total_cost = costs.indexTotalCost * tuples / vectors_ef_search;
	*selectivity = costs.indexSelectivity;
	*correlation = 0;
	*pages = costs.numIndexPages;
}

static char *
hnsw_build_phase_name(int64 phase)
{
	switch (phase)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case VECTORS_BUILD_PHASE_LOAD:
			return "loading tuples";
		case VECTORS_BUILD_PHASE_LINK:
			return "building graph in memory";
		case VECTORS_BUILD_PHASE_WRITE:
			return "writing pages";
		case VECTORS_BUILD_PHASE_INSERT:
			return "inserting on disk";
		default:
			return NULL;
	}
}

/*
 * Checks an operator class: one ORDER BY operator (strategy 1) returning
 * real over (vector, vector), and support function 1, a distance function
 * over (vector, vector).
 */
static bool
hnsw_validate(Oid opclassoid)
{
	bool		valid = true;
	HeapTuple	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	Form_pg_opclass classform;
	CatCList   *procs;
	CatCList   *operators;

	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);

	procs = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(classform->opcfamily));
	for (int i = 0; i < procs->n_members; i++)
	{
		Form_pg_amproc proc = (Form_pg_amproc) GETSTRUCT(&procs->members[i]->tuple);

		if (proc->amprocnum != 1 ||
			!check_amproc_signature(proc->amproc, FLOAT4OID, true, 2, 2, proc->amproclefttype,
									proc->amprocrighttype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("vectors operator family %s has invalid support function %d",
							NameStr(classform->opcname), proc->amprocnum)));
			valid = false;
		}
	}
	operators = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(classform->opcfamily));
	for (int i = 0; i < operators->n_members; i++)
	{
		Form_pg_amop op = (Form_pg_amop) GETSTRUCT(&operators->members[i]->tuple);

		if (op->amopstrategy != 1 || op->amoppurpose != AMOP_ORDER ||
			!check_amop_signature(op->amopopr, FLOAT4OID, op->amoplefttype, op->amoprighttype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("vectors operator family %s has invalid operator %s",
							NameStr(classform->opcname), format_operator(op->amopopr))));
			valid = false;
		}
	}
	ReleaseCatCacheList(operators);
	ReleaseCatCacheList(procs);
	ReleaseSysCache(classtup);
	return valid;
}

PG_FUNCTION_INFO_V1(vectors_amhandler);
Datum
vectors_amhandler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *am = makeNode(IndexAmRoutine);

	am->amstrategies = 1;
	am->amsupport = 1;
	am->amoptsprocnum = 0;
	am->amcanorder = false;
	am->amcanorderbyop = true;
	am->amcanbackward = false;
	am->amcanunique = false;
	am->amcanmulticol = false;
	am->amoptionalkey = true;
	am->amsearcharray = false;
	am->amsearchnulls = false;
	am->amstorage = false;
	am->amclusterable = false;
	am->ampredlocks = false;
	am->amcanparallel = false;
	am->amcaninclude = false;
	am->amusemaintenanceworkmem = false;
	am->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	am->amkeytype = InvalidOid;

	am->ambuild = hnsw_build;
	am->ambuildempty = hnsw_build_empty;
	am->aminsert = hnsw_insert;
	am->ambulkdelete = hnsw_bulk_delete;
	am->amvacuumcleanup = hnsw_vacuum_cleanup;
	am->amcanreturn = NULL;
	am->amcostestimate = hnsw_cost_estimate;
	am->amoptions = hnsw_options;
	am->amproperty = NULL;
	am->ambuildphasename = hnsw_build_phase_name;
	am->amvalidate = hnsw_validate;
	am->amadjustmembers = NULL;
	am->ambeginscan = hnsw_begin_scan;
	am->amrescan = hnsw_rescan;
	am->amgettuple = hnsw_get_tuple;
	am->amgetbitmap = NULL;
	am->amendscan = hnsw_end_scan;
	am->ammarkpos = NULL;
	am->amrestrpos = NULL;
	am->amestimateparallelscan = NULL;
	am->aminitparallelscan = NULL;
	am->amparallelrescan = NULL;

	PG_RETURN_POINTER(am);
}
