#include "cpu_features.h"

int vectors_cpu_level(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c") &&
               __builtin_cpu_supports("movbe");
    if (!avx2)
        return VECTORS_CPU_BASELINE;
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512vl");
    return avx512 ? VECTORS_CPU_AVX512 : VECTORS_CPU_AVX2;
#else
    return VECTORS_CPU_BASELINE;
#endif
}
