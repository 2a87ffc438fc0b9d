import VectorKernels

/// The vector operations of the SQL surface, on raw float32 buffers.
///
/// Inputs are assumed finite and of equal length: the caller (the C shim)
/// has checked dimensions, and the type's input functions reject NaN and
/// infinity, so these functions cannot fail.
public enum VectorMath {
    /// Squared Euclidean distance: the `<->` operator.
    @inlinable
    public static func l2Squared(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        DistanceKernels.best.l2Squared(a, b, count)
    }

    /// Inner product. The `<#>` operator is its negation, so that smaller
    /// means closer for all three operators.
    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        DistanceKernels.best.dot(a, b, count)
    }

    /// Cosine distance, 1 - a·b / (|a| |b|): the `<=>` operator.
    ///
    /// NaN when either vector is all zeros: the angle is undefined, and NaN
    /// sorts after every number in PostgreSQL, so such rows come last.
    /// Clamped to [0, 2] against rounding.
    @inlinable
    public static func cosineDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        let terms = DistanceKernels.best.cosineTerms(a, b, count)
        if terms.dot.isFinite && terms.normA.isFinite && terms.normB.isFinite {
            return cosineDistance(dot: Double(terms.dot), normA: Double(terms.normA), normB: Double(terms.normB))
        }
        // Elements above ~1e19 overflow float32 squares; redo it in double.
        var dot = 0.0, normA = 0.0, normB = 0.0
        for i in 0..<count {
            dot += Double(a[i]) * Double(b[i])
            normA += Double(a[i]) * Double(a[i])
            normB += Double(b[i]) * Double(b[i])
        }
        return cosineDistance(dot: dot, normA: normA, normB: normB)
    }

    @inlinable
    static func cosineDistance(dot: Double, normA: Double, normB: Double) -> Float {
        let denominator = (normA * normB).squareRoot()
        if denominator == 0 { return .nan }
        return Float(min(max(1 - dot / denominator, 0), 2))
    }

    /// Euclidean norm, computed in double precision.
    public static func norm(_ a: UnsafePointer<Float>, count: Int) -> Double {
        var sum = 0.0
        for i in 0..<count { sum += Double(a[i]) * Double(a[i]) }
        return sum.squareRoot()
    }

    /// Writes `a / |a|` to `result`; a zero vector stays zero.
    public static func normalize(_ a: UnsafePointer<Float>, count: Int, into result: UnsafeMutablePointer<Float>) {
        let n = norm(a, count: count)
        if n == 0 {
            result.update(repeating: 0, count: count)
            return
        }
        for i in 0..<count { result[i] = Float(Double(a[i]) / n) }
    }

    /// Element-wise arithmetic behind `+`, `-` and `*`.
    public enum ElementwiseOperation: Sendable {
        case add, subtract, multiply
    }

    /// Applies `operation` element-wise. Returns false when a result element
    /// overflowed to infinity (the caller reports it; a vector never holds
    /// infinities).
    public static func elementwise(
        _ operation: ElementwiseOperation, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        count: Int, into result: UnsafeMutablePointer<Float>
    ) -> Bool {
        switch operation {
        case .add: for i in 0..<count { result[i] = a[i] + b[i] }
        case .subtract: for i in 0..<count { result[i] = a[i] - b[i] }
        case .multiply: for i in 0..<count { result[i] = a[i] * b[i] }
        }
        return allFinite(UnsafePointer(result), count: count)
    }

    /// True when no element is NaN or infinite.
    public static func allFinite(_ a: UnsafePointer<Float>, count: Int) -> Bool {
        for i in 0..<count where !a[i].isFinite { return false }
        return true
    }

    /// `state[i] += a[i]` in double precision (aggregate transition).
    public static func accumulate(_ a: UnsafePointer<Float>, count: Int, into state: UnsafeMutablePointer<Double>) {
        accumulateKernel(state, a, count)
    }

    /// Total order used by the btree operator class: element by element, and
    /// a vector that is a prefix of another sorts first.
    /// Returns -1, 0 or 1. -0.0 equals 0.0, as for float4.
    public static func compare(
        _ a: UnsafePointer<Float>, count countA: Int, _ b: UnsafePointer<Float>, count countB: Int
    ) -> Int32 {
        for i in 0..<min(countA, countB) where a[i] != b[i] {
            return a[i] < b[i] ? -1 : 1
        }
        return countA == countB ? 0 : (countA < countB ? -1 : 1)
    }

    /// A 64-bit hash consistent with `compare`: vectors that compare equal
    /// hash equally (-0.0 and 0.0 hash alike). Mixing is a 64-bit
    /// multiply-xorshift per element, seeded so extended hashing can vary it.
    public static func hash(_ a: UnsafePointer<Float>, count: Int, seed: UInt64) -> UInt64 {
        var h = seed ^ (0x9E37_79B9_7F4A_7C15 &* UInt64(count + 1))
        for i in 0..<count {
            let value = a[i] == 0 ? 0 : a[i]  // folds -0.0 into 0.0
            h = (h ^ UInt64(value.bitPattern)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
        }
        h = (h ^ (h >> 30)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 29)
    }
}
