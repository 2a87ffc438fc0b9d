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

/* Index options: defaults and accepted ranges (documented in README.md). */
#define VECTORS_HNSW_DEFAULT_M				16
#define VECTORS_HNSW_MIN_M					2
#define VECTORS_HNSW_MAX_M					100
#define VECTORS_HNSW_DEFAULT_EF_CONSTRUCTION 100
#define VECTORS_HNSW_MIN_EF_CONSTRUCTION	4
#define VECTORS_HNSW_MAX_EF_CONSTRUCTION	2000
/* vectors.hnsw_ef_search */
#define VECTORS_HNSW_DEFAULT_EF_SEARCH		100
#define VECTORS_HNSW_MIN_EF_SEARCH			1
#define VECTORS_HNSW_MAX_EF_SEARCH			65535
/* Threads that link the graph in CREATE INDEX (index option
 * optimizing.optimizing_threads; default max_parallel_maintenance_workers + 1). */
#define VECTORS_MAX_BUILD_THREADS			64
/* Settings kept for pgvecto.rs's SQL (docs/INDEX.md, "Settings from
 * pgvecto.rs"): vectors.ivf_nprobe and the quantization re-rank sizes. */
#define VECTORS_DEFAULT_IVF_NPROBE			10
#define VECTORS_MAX_IVF_NPROBE				1000000
#define VECTORS_MAX_RERANK_SIZE				65535
/* The highest level a graph node can get. */
#define VECTORS_HNSW_MAX_LEVEL				15

#endif
