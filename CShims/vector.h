/*
 * vector.h: the on-disk and in-memory layout of the `vector` type and the
 * helpers shared by the shim's C files. PostgreSQL-facing; Swift never sees it.
 */
#ifndef VECTORS_VECTOR_H
#define VECTORS_VECTOR_H

#include "postgres.h"
#include "fmgr.h"

#include "vectors_shim.h"

/*
 * A vector: varlena header, dimension count, a reserved zero word, then the
 * float4 elements. The 8-byte header keeps the elements 4-byte aligned and
 * matches the binary wire format (uint16 dim, uint16 reserved, floats).
 * Invariants, enforced by every function that makes a vector: 1 <= dim <=
 * VECTORS_MAX_DIMENSIONS, reserved == 0, every element finite.
 */
typedef struct Vector
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint16		dim;			/* number of elements */
	uint16		reserved;		/* always zero; room for a future flag */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} Vector;

StaticAssertDecl(offsetof(Vector, x) == VECTORS_HEADER_BYTES,
				 "vectors_limits.h and struct Vector disagree");

#define VECTOR_SIZE(dim)		(offsetof(Vector, x) + sizeof(float) * (dim))
#define DatumGetVectorP(d)		((Vector *) PG_DETOAST_DATUM(d))
#define PG_GETARG_VECTOR_P(n)	DatumGetVectorP(PG_GETARG_DATUM(n))
#define PG_RETURN_VECTOR_P(v)	PG_RETURN_POINTER(v)

/* A zero-filled vector of `dim` elements in the current memory context. */
extern Vector *vector_allocate(int dim);

/* Raises the ERROR that Swift described in `error` (never returns). */
#if PG_VERSION_NUM >= 180000
extern pg_noreturn void vectors_raise(VectorsStatus status, const VectorsError *error);
#else
extern void vectors_raise(VectorsStatus status, const VectorsError *error) pg_attribute_noreturn();
#endif

/* ERRORs unless 1 <= dim <= VECTORS_MAX_DIMENSIONS. */
extern void vectors_check_dimension_count(int64 dim);

/* ERRORs unless the vector's dimension matches a typmod (-1 means any). */
extern void vectors_check_typmod(int dim, int32 typmod);

/* ERRORs with both dimensions unless a and b have the same dimension. */
extern void vectors_check_same_dimensions(const Vector *a, const Vector *b);

/* ERRORs if an element is NaN or infinite. */
extern void vectors_check_finite(const float *x, int dim);

#endif
