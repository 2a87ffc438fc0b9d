// The VectorKernels bodies compiled for x86-64 with AVX-512 F/BW/DQ/VL (Skylake-SP and
// later, Zen 4 and later). Only called after CPUFeatures confirmed support.
import VectorKernels

/// Kernels for CPUs with AVX-512.
public enum AVX512Kernels {
    public static func l2Squared(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        l2SquaredKernel(a, b, n, fused: true)
    }
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        dotKernel(a, b, n, fused: true)
    }
    public static func cosineTerms(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> (dot: Float, normA: Float, normB: Float) {
        cosineTermsKernel(a, b, n, fused: true)
    }
}
