#ifndef VECTORS_CPU_FEATURES_H
#define VECTORS_CPU_FEATURES_H

/* Which compiled kernel family this CPU can run. Values are ordered. */
enum {
    VECTORS_CPU_BASELINE = 0, /* any x86-64 (SSE2) or non-x86 */
    VECTORS_CPU_AVX2 = 1,     /* AVX2 + FMA + F16C + BMI2, what -target-cpu haswell assumes */
    VECTORS_CPU_AVX512 = 2    /* plus AVX-512 F/CD/BW/DQ/VL, what skylake-avx512 assumes */
};

/* The best kernel family the running CPU supports (cpuid, checked once). */
int vectors_cpu_level(void);

#endif
