import COpenBLAS
import Foundation

/// `y = x·Wᵀ + b` for a row-major batch of vectors, W stored `[out, in]` as
/// PyTorch's `nn.Linear` does.
struct Linear: Sendable {
    let weight: Weight
    let bias: Weight?
    var inFeatures: Int { weight.shape[1] }
    var outFeatures: Int { weight.shape[0] }

    init(_ file: SafetensorsFile, _ prefix: String, in inFeatures: Int, out outFeatures: Int, bias hasBias: Bool = true) throws {
        weight = try file.weight("\(prefix).weight", shape: [outFeatures, inFeatures])
        bias = hasBias ? try file.weight("\(prefix).bias", shape: [outFeatures]) : nil
    }

    init(weight: Weight, bias: Weight? = nil) {
        self.weight = weight
        self.bias = bias
    }

    /// `rows` input vectors at `x` → `rows` output vectors at `y`.
    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        let n = outFeatures, k = inFeatures
        if let bias {
            // Seed the output with the bias so sgemm adds the product to it (beta = 1).
            for r in 0..<rows { (y + r * n).update(from: bias.pointer, count: n) }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(n), Int32(k),
                    1, x, Int32(k), weight.pointer, Int32(k), bias == nil ? 0 : 1, y, Int32(n))
    }
}

/// Layer normalisation over the last dimension.
struct LayerNorm: Sendable {
    let weight: Weight
    let bias: Weight
    let eps: Float

    init(_ file: SafetensorsFile, _ prefix: String, size: Int, eps: Float) throws {
        weight = try file.weight("\(prefix).weight", shape: [size])
        bias = try file.weight("\(prefix).bias", shape: [size])
        self.eps = eps
    }

    /// Normalises `rows` vectors from `x` into `y` (may be the same buffer).
    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        let n = weight.count
        let w = weight.pointer, b = bias.pointer
        for r in 0..<rows {
            let row = x + r * n
            let out = y + r * n
            // Two passes (mean, then variance of the centred values) like PyTorch,
            // which is more accurate than E[x²] - E[x]².
            let mean = Vector.sum(row, n) / Float(n)
            var variance: Float = 0
            for i in 0..<n { let d = row[i] - mean; variance += d * d }
            variance /= Float(n)
            let inv = 1 / (variance + eps).squareRoot()
            for i in 0..<n { out[i] = (row[i] - mean) * inv * w[i] + b[i] }
        }
    }
}

extension Activation {
    /// Applies the activation in place.
    func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .quickGELU:
            for i in 0..<count { let v = x[i]; x[i] = v / (1 + expf(-1.702 * v)) }
        case .gelu:
            for i in 0..<count { let v = x[i]; x[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752)) }
        case .geluTanh, .geluNew:
            for i in 0..<count {
                let v = x[i]
                x[i] = 0.5 * v * (1 + tanhf(0.79788456080286536 * (v + 0.044715 * v * v * v)))
            }
        }
    }
}

/// Small vector kernels; explicit SIMD because Swift does not vectorise float reductions.
enum Vector {
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= n {
            acc += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            i += 16
        }
        var total = acc.sum()
        while i < n { total += x[i]; i += 1 }
        return total
    }

    /// `y += x`
    static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + 16 <= n {
            let a = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            let b = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: a + b, as: SIMD16<Float>.self)
            i += 16
        }
        while i < n { y[i] += x[i]; i += 1 }
    }

    /// Euclidean norm, accumulated in Double for stability.
    static func norm(_ x: UnsafeBufferPointer<Float>) -> Float {
        var s: Double = 0
        for v in x { s += Double(v) * Double(v) }
        return Float(s.squareRoot())
    }

    /// Numerically stable softmax of one row in place (max subtracted first).
    static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        var m = -Float.infinity
        for i in 0..<n where x[i] > m { m = x[i] }
        var s: Float = 0
        for i in 0..<n { let e = expf(x[i] - m); x[i] = e; s += e }
        let inv = 1 / s
        for i in 0..<n { x[i] *= inv }
    }
}

/// A heap buffer of floats for activations; cheaper than `[Float]` to pass to C.
final class Buffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(_ count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }
    deinit { pointer.deallocate() }
}
