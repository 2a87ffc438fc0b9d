/*
 * vectors_shim.h: the whole contract between the C shim and Swift.
 *
 * The shim (the C files in CShims) owns everything that touches PostgreSQL: fmgr
 * calling conventions, detoasting, palloc, ereport. Swift owns parsing,
 * formatting and the math. Functions declared here are implemented in
 * Swift (Sources/VectorsExtension, via @_cdecl) and called from C.
 *
 * Error rule (docs/ARCHITECTURE.md): Swift never raises a PostgreSQL error.
 * A Swift function that can fail returns a VectorsStatus and fills a
 * VectorsError; the C caller turns that into ereport(ERROR) after Swift has
 * returned, so no longjmp ever crosses a Swift frame.
 *
 * No PostgreSQL types appear here: sizes are plain C integer types.
 */
#ifndef VECTORS_SHIM_H
#define VECTORS_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "vectors_limits.h"

typedef enum VectorsStatus
{
	VECTORS_OK = 0,
	VECTORS_ERROR_SYNTAX = 1,		/* SQLSTATE 22P02 invalid_text_representation */
	VECTORS_ERROR_OUT_OF_RANGE = 2, /* SQLSTATE 22003 numeric_value_out_of_range */
	VECTORS_ERROR_OUT_OF_MEMORY = 3 /* SQLSTATE 53200 out_of_memory */
} VectorsStatus;

#define VECTORS_ERROR_TEXT 512

/* A failure reported by Swift: NUL-terminated, UTF-8, possibly truncated. */
typedef struct VectorsError
{
	char		message[VECTORS_ERROR_TEXT];
	char		detail[VECTORS_ERROR_TEXT];
} VectorsError;

/* ---- text I/O ---------------------------------------------------------- */

/*
 * Parses a vector literal of `length` bytes (need not be NUL-terminated).
 * On success stores a malloc'ed array of *dimensions floats in *elements
 * (release it with vectors_free) and returns VECTORS_OK.
 */
VectorsStatus vectors_parse(const char *text, size_t length,
							float **elements, int32_t *dimensions,
							VectorsError *error);

/* Releases memory that Swift allocated and handed to C. */
void		vectors_free(void *pointer);

/* Upper bound of the text length of a vector, terminating NUL included. */
size_t		vectors_format_capacity(int32_t dimensions);

/*
 * Writes the text form ("[1,2.5]") of a vector into `buffer`, which holds
 * vectors_format_capacity(dimensions) bytes; NUL-terminates it and returns
 * the length without the NUL.
 */
size_t		vectors_format(const float *elements, int32_t dimensions, char *buffer);

/* ---- math (inputs finite, dimensions already checked equal) ------------ */

float		vectors_l2_squared(const float *a, const float *b, int32_t dimensions);
float		vectors_dot(const float *a, const float *b, int32_t dimensions);
float		vectors_cosine_distance(const float *a, const float *b, int32_t dimensions);
double		vectors_norm(const float *a, int32_t dimensions);
void		vectors_normalize(const float *a, int32_t dimensions, float *result);

typedef enum VectorsElementwise
{
	VECTORS_ADD = 0,
	VECTORS_SUBTRACT = 1,
	VECTORS_MULTIPLY = 2
} VectorsElementwise;

/* result = a op b; returns false if an element overflowed to infinity. */
bool		vectors_elementwise(VectorsElementwise operation, const float *a,
								const float *b, int32_t dimensions, float *result);

/* True when every element is finite. */
bool		vectors_all_finite(const float *a, int32_t dimensions);

/* state[i] += a[i] (double precision running sum for aggregates). */
void		vectors_accumulate(double *state, const float *a, int32_t dimensions);

/* Btree order: -1, 0, 1. Shorter prefix sorts first. */
int32_t		vectors_compare(const float *a, int32_t dimensions_a,
							const float *b, int32_t dimensions_b);

/* Hash consistent with vectors_compare (-0.0 hashes like 0.0). */
uint64_t	vectors_hash(const float *a, int32_t dimensions, uint64_t seed);

/* Which kernel family is in use ("baseline", "avx2", "avx512"); static string. */
const char *vectors_kernel_name(void);

#endif							/* VECTORS_SHIM_H */
