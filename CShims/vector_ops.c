/*
 * vector_ops.c: distance operators and functions, element-wise arithmetic,
 * comparison and hashing support, and the sum/avg aggregates. The math is
 * Swift's (vectors_shim.h); this file checks arguments and shapes results.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/float.h"

#include "vector.h"

/* Fetches two vector arguments and checks that their dimensions agree. */
#define GET_TWO_VECTORS(a, b) \
	Vector	   *a = PG_GETARG_VECTOR_P(0); \
	Vector	   *b = PG_GETARG_VECTOR_P(1); \
	vectors_check_same_dimensions(a, b)

/* ---- distances ---------------------------------------------------------- */

/* <-> : squared Euclidean distance, as pgvecto.rs defines it. */
PG_FUNCTION_INFO_V1(vector_l2_squared_distance);
Datum
vector_l2_squared_distance(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT4(vectors_l2_squared(a->x, b->x, a->dim));
}

/* <#> : negative inner product, so that smaller is closer. */
PG_FUNCTION_INFO_V1(vector_negative_inner_product);
Datum
vector_negative_inner_product(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT4(-vectors_dot(a->x, b->x, a->dim));
}

/* <=> : cosine distance; NaN when either vector is zero. */
PG_FUNCTION_INFO_V1(vector_cosine_distance_op);
Datum
vector_cosine_distance_op(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT4(vectors_cosine_distance(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(l2_distance);
Datum
l2_distance(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT8(sqrt((double) vectors_l2_squared(a->x, b->x, a->dim)));
}

PG_FUNCTION_INFO_V1(inner_product);
Datum
inner_product(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT8((double) vectors_dot(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(cosine_distance);
Datum
cosine_distance(PG_FUNCTION_ARGS)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT8((double) vectors_cosine_distance(a->x, b->x, a->dim));
}

/* ---- unary functions ---------------------------------------------------- */

PG_FUNCTION_INFO_V1(vector_dims);
Datum
vector_dims(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_VECTOR_P(0)->dim);
}

PG_FUNCTION_INFO_V1(vector_norm);
Datum
vector_norm(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_FLOAT8(vectors_norm(a->x, a->dim));
}

PG_FUNCTION_INFO_V1(vector_normalize);
Datum
vector_normalize(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *result = vector_allocate(a->dim);

	vectors_normalize(a->x, a->dim, result->x);
	PG_RETURN_VECTOR_P(result);
}

/* ---- element-wise arithmetic ------------------------------------------- */

static Datum
elementwise(FunctionCallInfo fcinfo, VectorsElementwise operation)
{
	GET_TWO_VECTORS(a, b);
	Vector	   *result = vector_allocate(a->dim);

	if (!vectors_elementwise(operation, a->x, b->x, a->dim, result->x))
		float_overflow_error();
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_add);
Datum
vector_add(PG_FUNCTION_ARGS)
{
	return elementwise(fcinfo, VECTORS_ADD);
}

PG_FUNCTION_INFO_V1(vector_sub);
Datum
vector_sub(PG_FUNCTION_ARGS)
{
	return elementwise(fcinfo, VECTORS_SUBTRACT);
}

PG_FUNCTION_INFO_V1(vector_mul);
Datum
vector_mul(PG_FUNCTION_ARGS)
{
	return elementwise(fcinfo, VECTORS_MULTIPLY);
}

/* ---- comparison and hashing (btree and hash operator classes) ----------- */

static int
compare_arguments(FunctionCallInfo fcinfo)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	return vectors_compare(a->x, a->dim, b->x, b->dim);
}

PG_FUNCTION_INFO_V1(vector_cmp);
Datum
vector_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(compare_arguments(fcinfo));
}

#define COMPARISON(name, test) \
	PG_FUNCTION_INFO_V1(name); \
	Datum name(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(compare_arguments(fcinfo) test); }

COMPARISON(vector_lt, < 0)
COMPARISON(vector_le, <= 0)
COMPARISON(vector_eq, == 0)
COMPARISON(vector_ne, != 0)
COMPARISON(vector_ge, >= 0)
COMPARISON(vector_gt, > 0)

PG_FUNCTION_INFO_V1(vector_hash);
Datum
vector_hash(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT32((int32) (uint32) vectors_hash(a->x, a->dim, 0));
}

PG_FUNCTION_INFO_V1(vector_hash_extended);
Datum
vector_hash_extended(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT64((int64) vectors_hash(a->x, a->dim, (uint64) PG_GETARG_INT64(1)));
}

/* ---- aggregates: sum(vector), avg(vector) -------------------------------- */

/*
 * The transition state is a float8[]: element 0 counts the rows, elements
 * 1..dim hold the running sums in double precision. An array (rather than
 * an internal struct) makes the state serializable for free, so both
 * aggregates run in parallel with vector_combine. The initial state is {0}.
 */

static double *
state_values(ArrayType *state, int *length)
{
	if (ARR_NDIM(state) != 1 || ARR_ELEMTYPE(state) != FLOAT8OID || ARR_HASNULL(state) ||
		ARR_DIMS(state)[0] < 1)
		elog(ERROR, "vector aggregate state must be a non-empty float8[] without NULLs");
	*length = ARR_DIMS(state)[0];
	return (double *) ARR_DATA_PTR(state);
}

static ArrayType *
state_allocate(int dim)
{
	Datum	   *zeros = palloc(sizeof(Datum) * (dim + 1));

	for (int i = 0; i <= dim; i++)
		zeros[i] = Float8GetDatum(0.0);
	return construct_array(zeros, dim + 1, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

static void
state_check_dimensions(int state_dim, int dim)
{
	if (state_dim != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", state_dim, dim)));
}

PG_FUNCTION_INFO_V1(vector_accum);
Datum
vector_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	Vector	   *v = PG_GETARG_VECTOR_P(1);
	int			length;
	double	   *values = state_values(state, &length);

	/*
	 * Inside an aggregate the state belongs to us and is updated in place;
	 * the first row replaces the {0} initial state with a full-size one.
	 */
	if (length == 1 || !AggCheckCallContext(fcinfo, NULL))
	{
		ArrayType  *fresh = state_allocate(length == 1 ? v->dim : length - 1);
		double	   *fresh_values = (double *) ARR_DATA_PTR(fresh);

		memcpy(fresh_values, values, sizeof(double) * length);
		state = fresh;
		values = fresh_values;
		length = ARR_DIMS(fresh)[0];
	}
	state_check_dimensions(length - 1, v->dim);
	values[0] += 1;
	vectors_accumulate(values + 1, v->x, v->dim);
	PG_RETURN_ARRAYTYPE_P(state);
}

PG_FUNCTION_INFO_V1(vector_combine);
Datum
vector_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *b = PG_GETARG_ARRAYTYPE_P(1);
	int			length_a,
				length_b;
	double	   *va = state_values(a, &length_a);
	double	   *vb = state_values(b, &length_b);
	ArrayType  *result;
	double	   *out;

	/* A state that saw no rows is still {0}. */
	if (length_a == 1)
		PG_RETURN_ARRAYTYPE_P(length_b == 1 ? a : b);
	if (length_b == 1)
		PG_RETURN_ARRAYTYPE_P(a);
	state_check_dimensions(length_a - 1, length_b - 1);

	result = state_allocate(length_a - 1);
	out = (double *) ARR_DATA_PTR(result);
	for (int i = 0; i < length_a; i++)
		out[i] = va[i] + vb[i];
	PG_RETURN_ARRAYTYPE_P(result);
}

static Datum
aggregate_final(FunctionCallInfo fcinfo, bool average)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			length;
	double	   *values = state_values(state, &length);
	double		count = values[0];
	Vector	   *result;

	if (count == 0)
		PG_RETURN_NULL();		/* no rows: SQL says NULL, as for sum(real) */
	result = vector_allocate(length - 1);
	for (int i = 1; i < length; i++)
	{
		double		value = average ? values[i] / count : values[i];

		result->x[i - 1] = (float) value;
		if (isinf(result->x[i - 1]))
			float_overflow_error();
	}
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_avg);
Datum
vector_avg(PG_FUNCTION_ARGS)
{
	return aggregate_final(fcinfo, true);
}

PG_FUNCTION_INFO_V1(vector_sum);
Datum
vector_sum(PG_FUNCTION_ARGS)
{
	return aggregate_final(fcinfo, false);
}
