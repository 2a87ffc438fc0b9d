import CPUFeatures
import VectorKernels
import VectorKernelsAVX2
import VectorKernelsAVX512

/// The distance kernels compiled for the best instruction set this CPU has.
///
/// Chosen once per process from `cpuid`; call sites in hot loops should copy
/// the function values out of `DistanceKernels.best` instead of going through
/// the global on every call.
public struct DistanceKernels: Sendable {
    /// A plain C function pointer: calling it costs no reference counting,
    /// which matters in graph search where it runs millions of times.
    public typealias Pair = @convention(c) (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Float
    public typealias Terms = @Sendable (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> (dot: Float, normA: Float, normB: Float)

    /// Which compiled family these are: "baseline", "avx2" or "avx512".
    public let name: StaticString
    /// Squared Euclidean distance.
    public let l2Squared: Pair
    /// Inner product.
    public let dot: Pair
    /// a·b, a·a, b·b in one pass.
    public let cosineTerms: Terms

    /// Portable SSE2 code: runs on every x86-64 (and any other target).
    public static let baseline = DistanceKernels(
        name: "baseline",
        l2Squared: { l2SquaredKernel($0, $1, $2, fused: false) },
        dot: { dotKernel($0, $1, $2, fused: false) },
        cosineTerms: { cosineTermsKernel($0, $1, $2, fused: false) })

    /// AVX2 + FMA. Only valid where `vectors_cpu_level() >= VECTORS_CPU_AVX2`.
    public static let avx2 = DistanceKernels(
        name: "avx2", l2Squared: { AVX2Kernels.l2Squared($0, $1, $2) }, dot: { AVX2Kernels.dot($0, $1, $2) },
        cosineTerms: AVX2Kernels.cosineTerms)

    /// AVX-512. Only valid where `vectors_cpu_level() >= VECTORS_CPU_AVX512`.
    public static let avx512 = DistanceKernels(
        name: "avx512", l2Squared: { AVX512Kernels.l2Squared($0, $1, $2) }, dot: { AVX512Kernels.dot($0, $1, $2) },
        cosineTerms: AVX512Kernels.cosineTerms)

    /// Every family this CPU can run, slowest first (for tests and benchmarks).
    public static let supported: [DistanceKernels] = {
        let level = Int(vectors_cpu_level())
        var all = [baseline]
        if level >= Int(VECTORS_CPU_AVX2) { all.append(avx2) }
        if level >= Int(VECTORS_CPU_AVX512) { all.append(avx512) }
        return all
    }()

    /// The widest family this CPU can run.
    ///
    /// Measured here (AMD Zen 4, `make bench-kernels`): over a 4 MiB block
    /// the AVX2 build streams ~15% faster than the AVX-512 one, over a
    /// cache-resident block AVX-512 is faster; graph search, bound by memory
    /// latency, showed no difference. Both give bit-identical results (a
    /// test checks it), so a future per-CPU choice cannot change any answer.
    public static let best: DistanceKernels = supported.last!
}
