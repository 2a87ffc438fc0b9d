/*
 * vector_io.c: text and binary I/O of the vector type, its type modifier,
 * and the casts to and from arrays.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "vector.h"

PG_FUNCTION_INFO_V1(vector_in);
Datum
vector_in(PG_FUNCTION_ARGS)
{
	char	   *text = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	float	   *elements = NULL;
	int32_t		dim = 0;
	VectorsError error;
	VectorsStatus status;
	Vector	   *result;

	status = vectors_parse(text, strlen(text), &elements, &dim, &error);
	if (status != VECTORS_OK)
		vectors_raise(status, &error);

	/* Copy out of Swift's malloc'ed buffer before anything can ERROR. */
	result = (Vector *) palloc(VECTOR_SIZE(dim));
	SET_VARSIZE(result, VECTOR_SIZE(dim));
	result->dim = (uint16) dim;
	result->reserved = 0;
	memcpy(result->x, elements, sizeof(float) * dim);
	vectors_free(elements);

	vectors_check_typmod(dim, typmod);
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_out);
Datum
vector_out(PG_FUNCTION_ARGS)
{
	Vector	   *vector = PG_GETARG_VECTOR_P(0);
	char	   *buffer = palloc(vectors_format_capacity(vector->dim));

	vectors_format(vector->x, vector->dim, buffer);
	PG_RETURN_CSTRING(buffer);
}

PG_FUNCTION_INFO_V1(vector_typmod_in);
Datum
vector_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *modifiers = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *values;
	int			count;

	values = ArrayGetIntegerTypmods(modifiers, &count);
	if (count != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier for vector: expected one dimension count, got %d values",
						count)));
	if (values[0] < 1 || values[0] > VECTORS_MAX_DIMENSIONS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector must be between 1 and %d, got %d",
						VECTORS_MAX_DIMENSIONS, values[0])));
	PG_RETURN_INT32(values[0]);
}

PG_FUNCTION_INFO_V1(vector_typmod_out);
Datum
vector_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	PG_RETURN_CSTRING(typmod < 0 ? pstrdup("") : psprintf("(%d)", typmod));
}

/*
 * Binary format: uint16 dimensions, uint16 reserved (0), then each element
 * as a network-order float4. The same layout pgvector uses, so its binary
 * clients interoperate.
 */
PG_FUNCTION_INFO_V1(vector_recv);
Datum
vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim = (int) (uint16) pq_getmsgint(buf, sizeof(uint16));
	int			reserved = (int) (uint16) pq_getmsgint(buf, sizeof(uint16));
	Vector	   *result;

	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary vector: dimension count is 0")));
	if (reserved != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary vector: reserved field is %d, expected 0", reserved)));
	/* Check the length before allocating, so a bogus count costs nothing. */
	if ((size_t) (buf->len - buf->cursor) != sizeof(float) * dim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary vector: %d dimensions need %zu bytes of elements, got %d",
						dim, sizeof(float) * dim, buf->len - buf->cursor)));

	result = vector_allocate(dim);
	for (int i = 0; i < dim; i++)
		result->x[i] = pq_getmsgfloat4(buf);
	vectors_check_finite(result->x, dim);
	vectors_check_typmod(dim, typmod);
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_send);
Datum
vector_send(PG_FUNCTION_ARGS)
{
	Vector	   *vector = PG_GETARG_VECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, vector->dim);
	pq_sendint16(&buf, 0);
	for (int i = 0; i < vector->dim; i++)
		pq_sendfloat4(&buf, vector->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* vector -> vector(n): the length coercion behind typmods. */
PG_FUNCTION_INFO_V1(vector_coerce);
Datum
vector_coerce(PG_FUNCTION_ARGS)
{
	Vector	   *vector = PG_GETARG_VECTOR_P(0);

	vectors_check_typmod(vector->dim, PG_GETARG_INT32(1));
	PG_RETURN_VECTOR_P(vector);
}

/*
 * real[], double precision[], integer[], numeric[] -> vector. The array must
 * be one-dimensional, without NULLs, with finite values that fit in float4.
 */
PG_FUNCTION_INFO_V1(array_to_vector);
Datum
array_to_vector(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			element_type = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *values;
	bool	   *nulls;
	int			count;
	Vector	   *result;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot convert a %d-dimensional array to a vector", ARR_NDIM(array)),
				 errdetail("Only one-dimensional arrays convert to vectors.")));
	if (array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain NULL values to convert to a vector")));

	get_typlenbyvalalign(element_type, &typlen, &typbyval, &typalign);
	deconstruct_array(array, element_type, typlen, typbyval, typalign, &values, &nulls, &count);
	vectors_check_dimension_count(count);

	result = vector_allocate(count);
	for (int i = 0; i < count; i++)
	{
		double		value;

		switch (element_type)
		{
			case FLOAT4OID:
				value = DatumGetFloat4(values[i]);
				break;
			case FLOAT8OID:
				value = DatumGetFloat8(values[i]);
				break;
			case INT4OID:
				value = DatumGetInt32(values[i]);
				break;
			case NUMERICOID:
				{
					/*
					 * Through text rather than numeric_float8, whose overflow
					 * error quotes every digit of the number.
					 */
					char	   *digits = DatumGetCString(DirectFunctionCall1(numeric_out, values[i]));

					value = strtod(digits, NULL);
					pfree(digits);
					break;
				}
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("cannot convert an array of %s to a vector",
								format_type_be(element_type))));
		}
		if (isnan(value))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("NaN is not allowed in a vector (array element %d)", i + 1)));
		result->x[i] = (float) value;
		/* Overflow to infinity, or a nonzero value that underflows to zero. */
		if (isinf(result->x[i]) || (value != 0 && result->x[i] == 0))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("array element %d (%g) is out of range for a vector element (float4)",
							i + 1, value)));
	}
	vectors_check_typmod(count, typmod);
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_to_float4);
Datum
vector_to_float4(PG_FUNCTION_ARGS)
{
	Vector	   *vector = PG_GETARG_VECTOR_P(0);
	Datum	   *values = palloc(sizeof(Datum) * vector->dim);

	for (int i = 0; i < vector->dim; i++)
		values[i] = Float4GetDatum(vector->x[i]);
	PG_RETURN_POINTER(construct_array(values, vector->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT));
}
