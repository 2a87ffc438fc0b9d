/*
 * vectors.c: module entry and the helpers every other shim file uses.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "hnsw.h"
#include "vector.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	hnsw_init();
}

Vector *
vector_allocate(int dim)
{
	Size		size = VECTOR_SIZE(dim);
	Vector	   *result = (Vector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = (uint16) dim;
	return result;
}

void
vectors_raise(VectorsStatus status, const VectorsError *error)
{
	int			code;

	switch (status)
	{
		case VECTORS_ERROR_SYNTAX:
			code = ERRCODE_INVALID_TEXT_REPRESENTATION;
			break;
		case VECTORS_ERROR_OUT_OF_RANGE:
			code = ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
			break;
		case VECTORS_ERROR_OUT_OF_MEMORY:
			code = ERRCODE_OUT_OF_MEMORY;
			break;
		case VECTORS_ERROR_INTERNAL:
			code = ERRCODE_INTERNAL_ERROR;
			break;
		default:
			code = ERRCODE_INTERNAL_ERROR;
			break;
	}
	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", error->message),
			 error->detail[0] ? errdetail_internal("%s", error->detail) : 0));
	pg_unreachable();
}

void
vectors_check_dimension_count(int64 dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));
	if (dim > VECTORS_MAX_DIMENSIONS)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("vector cannot have more than %d dimensions, got " INT64_FORMAT,
						VECTORS_MAX_DIMENSIONS, dim)));
}

void
vectors_check_typmod(int dim, int32 typmod)
{
	if (typmod != -1 && dim != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("wrong number of dimensions for type vector(%d): expected %d, got %d",
						typmod, typmod, dim)));
}

void
vectors_check_same_dimensions(const Vector *a, const Vector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", a->dim, b->dim)));
}

void
vectors_check_finite(const float *x, int dim)
{
	for (int i = 0; i < dim; i++)
	{
		if (isnan(x[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("NaN is not allowed in a vector (element %d)", i + 1)));
		if (isinf(x[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("infinite value is not allowed in a vector (element %d)", i + 1)));
	}
}

PG_FUNCTION_INFO_V1(vectors_kernel_family);
/* Which compiled SIMD kernel family this backend uses, for bug reports. */
Datum
vectors_kernel_family(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(vectors_kernel_name()));
}
