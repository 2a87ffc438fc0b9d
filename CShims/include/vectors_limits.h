/*
 * Limits of the vector type: the single source of truth, read by the C shim
 * and (through the CVectorsShim module) by Swift.
 */
#ifndef VECTORS_LIMITS_H
#define VECTORS_LIMITS_H

/* A vector has 1 ..= VECTORS_MAX_DIMENSIONS float4 elements. */
#define VECTORS_MAX_DIMENSIONS 65535

/* Bytes before the first element in the in-memory (varlena) form:
 * int32 varlena header, uint16 dimensions, uint16 reserved (zero). */
#define VECTORS_HEADER_BYTES 8

#endif
