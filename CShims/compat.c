/*
 * compat.c: pgvecto.rs's pgvector compatibility mode.
 *
 * With vectors.pgvector_compatibility on, statements written for pgvector
 * run against this extension: they are rewritten after parsing, before
 * PostgreSQL executes them.
 *
 *   CREATE INDEX ... USING hnsw (col vector_cosine_ops) WITH (m, ef_construction)
 *       -> USING vectors (col vector_cos_ops) WITH (m, ef_construction)
 *   CREATE INDEX ... USING ivfflat (col vector_ip_ops) WITH (lists = n)
 *       -> USING vectors (col vector_dot_ops): an HNSW index (there is no
 *          IVF index yet); `lists` is checked as pgvector checks it, then
 *          dropped, with a NOTICE saying so
 *   SET / SET LOCAL / RESET / SHOW hnsw.ef_search   -> vectors.hnsw_ef_search
 *   SET / ... ivfflat.probes                        -> vectors.ivf_nprobe
 *   SET / ... hnsw.iterative_scan off | relaxed_order | strict_order
 *                                                   -> vectors.search_mode basic | vbase
 *   (also inside ALTER SYSTEM, ALTER DATABASE ... SET, ALTER ROLE ... SET)
 *
 * The rewrite happens only where it can be meant: pgvector is not installed
 * in the database (where it is, its statements are its own) and, for an
 * index, this extension is. Index options the statement leaves out
 * get pgvector's defaults, as pgvecto.rs did. What the catalog then holds is
 * a plain `USING vectors` index, so pg_dump writes it that way and a restore
 * needs no compatibility mode.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "nodes/makefuncs.h"
#include "parser/analyze.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "hnsw.h"

static bool pgvector_compatibility = false;
static post_parse_analyze_hook_type previous_post_parse_analyze = NULL;

/* pgvector's operator classes and this extension's counterparts. */
static const struct
{
	const char *pgvector;
	const char *vectors;
}			opclass_names[] = {
	{"vector_l2_ops", "vector_l2_ops"},
	{"vector_ip_ops", "vector_dot_ops"},
	{"vector_cosine_ops", "vector_cos_ops"},
};

/* pgvector's settings and the ones that mean the same here. */
static const struct
{
	const char *pgvector;
	const char *vectors;
}			setting_names[] = {
	{"hnsw.ef_search", VECTORS_GUC_HNSW_EF_SEARCH},
	{"ivfflat.probes", VECTORS_GUC_IVF_NPROBE},
	{"hnsw.iterative_scan", VECTORS_GUC_SEARCH_MODE},
};

/* pgvector's option defaults and ranges (its documentation), applied to the
 * statements written for it. */
#define PGVECTOR_DEFAULT_M					16
#define PGVECTOR_DEFAULT_EF_CONSTRUCTION	64
#define PGVECTOR_MIN_LISTS					1
#define PGVECTOR_MAX_LISTS					32768

static bool
is_pgvector_method(const char *name)
{
	return name != NULL && (strcmp(name, "hnsw") == 0 || strcmp(name, "ivfflat") == 0);
}

/* The operator class list of `elem` with pgvector's name replaced; NIL when
 * the name is not one of pgvector's (it is left for PostgreSQL to resolve,
 * so this extension's own names work too). */
static List *
mapped_opclass(List *opclass)
{
	const char *name;

	if (opclass == NIL)
		return NIL;
	name = strVal(llast(opclass));
	for (int i = 0; i < lengthof(opclass_names); i++)
		if (strcmp(name, opclass_names[i].pgvector) == 0)
		{
			List	   *result = list_truncate(list_copy(opclass), list_length(opclass) - 1);

			return lappend(result, makeString(pstrdup(opclass_names[i].vectors)));
		}
	return NIL;
}

/* The type of column `column` of the table `relation` names, or InvalidOid. */
static Oid
column_type(RangeVar *relation, const char *column)
{
	Oid			relid = RangeVarGetRelid(relation, NoLock, true);
	AttrNumber	attnum;

	if (!OidIsValid(relid) || column == NULL)
		return InvalidOid;
	attnum = get_attnum(relid, column);
	if (attnum == InvalidAttrNumber)
		return InvalidOid;
	return get_atttype(relid, attnum);
}

/* The schema this extension is installed in, or InvalidOid.
 * (PostgreSQL 15 keeps its get_extension_schema static.) */
static Oid
extension_schema(void)
{
	Oid			extension = get_extension_oid("vectors", true);
	Oid			schema = InvalidOid;
	Relation	catalog;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;

	if (!OidIsValid(extension))
		return InvalidOid;
	catalog = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extension));
	scan = systable_beginscan(catalog, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		schema = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(catalog, AccessShareLock);
	return schema;
}

/* This extension's `vector` type, or InvalidOid. */
static Oid
vectors_vector_type(void)
{
	Oid			schema = extension_schema();

	if (!OidIsValid(schema))
		return InvalidOid;
	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("vector"),
						   ObjectIdGetDatum(schema));
}

/* An integer option's value, with pgvector's kind of error for a bad one. */
static int
integer_option(DefElem *option, int min, int max)
{
	const char *text = defGetString(option);
	int			value;

	if (!parse_int(text, &value, 0, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for integer option \"%s\": %s", option->defname, text)));
	if (value < min || value > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value %s out of bounds for option \"%s\"", text, option->defname),
				 errdetail("Valid values are between \"%d\" and \"%d\".", min, max)));
	return value;
}

static void
rewrite_index(IndexStmt *stmt)
{
	bool		ivfflat = strcmp(stmt->accessMethod, "ivfflat") == 0;
	bool		has_m = false;
	bool		has_ef_construction = false;
	List	   *options = NIL;
	ListCell   *cell;
	Oid			vector_type = vectors_vector_type();

	foreach(cell, stmt->options)
	{
		DefElem    *option = lfirst_node(DefElem, cell);

		if (ivfflat && strcmp(option->defname, "lists") == 0)
		{
			int			lists = integer_option(option, PGVECTOR_MIN_LISTS, PGVECTOR_MAX_LISTS);

			ereport(NOTICE,
					(errmsg("ivfflat index built as an HNSW index: lists = %d is not used", lists),
					 errdetail("vectors has no IVF index yet; vectors.pgvector_compatibility maps ivfflat onto its HNSW index.")));
			continue;
		}
		if (!ivfflat && strcmp(option->defname, "m") == 0)
			has_m = true;
		else if (!ivfflat && strcmp(option->defname, "ef_construction") == 0)
			has_ef_construction = true;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized parameter \"%s\" for %s index in pgvector compatibility mode",
							option->defname, stmt->accessMethod),
					 errhint("%s", ivfflat ? "ivfflat takes lists." : "hnsw takes m and ef_construction.")));
		options = lappend(options, option);
	}
	if (!ivfflat && !has_m)
		options = lappend(options, makeDefElem(pstrdup("m"),
											   (Node *) makeInteger(PGVECTOR_DEFAULT_M), -1));
	if (!ivfflat && !has_ef_construction)
		options = lappend(options, makeDefElem(pstrdup("ef_construction"),
											   (Node *) makeInteger(PGVECTOR_DEFAULT_EF_CONSTRUCTION), -1));
	stmt->options = options;

	foreach(cell, stmt->indexParams)
	{
		IndexElem  *elem = lfirst_node(IndexElem, cell);
		List	   *mapped = mapped_opclass(elem->opclass);

		if (mapped != NIL)
			elem->opclass = mapped;
		else if (elem->opclass == NIL && elem->expr == NULL && OidIsValid(vector_type) &&
				 column_type(stmt->relation, elem->name) == vector_type)
			/* pgvector's default operator class for vector is L2 */
			elem->opclass = list_make1(makeString(pstrdup("vector_l2_ops")));
	}
	stmt->accessMethod = pstrdup(VECTORS_ACCESS_METHOD);
}

/* hnsw.iterative_scan's values as vectors.search_mode's. */
static void
rewrite_iterative_scan(VariableSetStmt *stmt)
{
	A_Const    *value;
	const char *text;

	if (stmt->kind != VAR_SET_VALUE || list_length(stmt->args) != 1 ||
		!IsA(linitial(stmt->args), A_Const))
		return;
	value = linitial_node(A_Const, stmt->args);
	if (value->isnull || !IsA(&value->val, String))
		return;
	text = strVal(&value->val);
	if (strcmp(text, "off") == 0)
		text = "basic";
	else if (strcmp(text, "relaxed_order") == 0 || strcmp(text, "strict_order") == 0)
		text = "vbase";
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for parameter \"hnsw.iterative_scan\": \"%s\"", text),
				 errhint("Available values: off, relaxed_order, strict_order.")));
	{
		A_Const    *mapped = makeNode(A_Const);

		mapped->val.sval.type = T_String;
		mapped->val.sval.sval = pstrdup(text);
		mapped->location = value->location;
		stmt->args = list_make1(mapped);
	}
}

/* The setting name `name` stands for, or NULL if it is not pgvector's. */
static const char *
mapped_setting(const char *name)
{
	if (name == NULL)
		return NULL;
	for (int i = 0; i < lengthof(setting_names); i++)
		if (pg_strcasecmp(name, setting_names[i].pgvector) == 0)
			return setting_names[i].vectors;
	return NULL;
}

static void
rewrite_set(VariableSetStmt *stmt)
{
	const char *mapped;

	if (stmt == NULL || (mapped = mapped_setting(stmt->name)) == NULL)
		return;
	if (pg_strcasecmp(stmt->name, "hnsw.iterative_scan") == 0)
		rewrite_iterative_scan(stmt);
	stmt->name = pstrdup(mapped);
}

/* pgvector is installed in this database: its own statements are its. */
static bool
pgvector_installed(void)
{
	return OidIsValid(get_index_am_oid("hnsw", true)) || OidIsValid(get_index_am_oid("ivfflat", true));
}

/* Whether a statement found in this database is one to rewrite. */
static bool
rewrite_applies(Node *statement)
{
	if (!pgvector_compatibility || statement == NULL || !IsTransactionState() || pgvector_installed())
		return false;
	switch (nodeTag(statement))
	{
		case T_IndexStmt:
			{
				const char *method = ((IndexStmt *) statement)->accessMethod;

				return is_pgvector_method(method) &&
					OidIsValid(get_index_am_oid(VECTORS_ACCESS_METHOD, true));
			}
		case T_VariableSetStmt:
			return mapped_setting(((VariableSetStmt *) statement)->name) != NULL;
		case T_VariableShowStmt:
			return mapped_setting(((VariableShowStmt *) statement)->name) != NULL;
		case T_AlterSystemStmt:
			return mapped_setting(((AlterSystemStmt *) statement)->setstmt->name) != NULL;
		case T_AlterDatabaseSetStmt:
			return mapped_setting(((AlterDatabaseSetStmt *) statement)->setstmt->name) != NULL;
		case T_AlterRoleSetStmt:
			return mapped_setting(((AlterRoleSetStmt *) statement)->setstmt->name) != NULL;
		default:
			return false;
	}
}

static void
rewrite(Node *statement)
{
	switch (nodeTag(statement))
	{
		case T_IndexStmt:
			rewrite_index((IndexStmt *) statement);
			break;
		case T_VariableSetStmt:
			rewrite_set((VariableSetStmt *) statement);
			break;
		case T_VariableShowStmt:
			{
				VariableShowStmt *show = (VariableShowStmt *) statement;

				show->name = pstrdup(mapped_setting(show->name));
				break;
			}
		case T_AlterSystemStmt:
			rewrite_set(((AlterSystemStmt *) statement)->setstmt);
			break;
		case T_AlterDatabaseSetStmt:
			rewrite_set(((AlterDatabaseSetStmt *) statement)->setstmt);
			break;
		case T_AlterRoleSetStmt:
			rewrite_set(((AlterRoleSetStmt *) statement)->setstmt);
			break;
		default:
			break;
	}
}

/*
 * Rewriting at parse analysis, not in ProcessUtility: SHOW's result column
 * is described (and an unknown name refused) before ProcessUtility runs,
 * and the tree is still the statement's own here.
 */
static void
compat_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (previous_post_parse_analyze)
		previous_post_parse_analyze(pstate, query, jstate);
	if (query->commandType == CMD_UTILITY && rewrite_applies(query->utilityStmt))
		rewrite(query->utilityStmt);
}

void
compat_init(void)
{
	DefineCustomBoolVariable(VECTORS_GUC_PGVECTOR_COMPATIBILITY,
							 "Runs pgvector's SQL: USING hnsw / ivfflat with pgvector's operator classes and options, hnsw.ef_search, ivfflat.probes, hnsw.iterative_scan.",
							 "Statements are rewritten onto this extension's index and settings (pgvecto.rs's mode).",
							 &pgvector_compatibility, false, PGC_USERSET, 0, NULL, NULL, NULL);
	previous_post_parse_analyze = post_parse_analyze_hook;
	post_parse_analyze_hook = compat_post_parse_analyze;
}
