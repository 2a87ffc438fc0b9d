import VectorCore

/// The distance an index orders by. Smaller is always closer.
public enum Metric: UInt8, Sendable, CaseIterable {
    /// Squared Euclidean distance (`<->`).
    case l2 = 0
    /// Negative inner product (`<#>`).
    case dot = 1
    /// Cosine distance (`<=>`). The index stores unit vectors and computes
    /// 1 - a·b, which equals the cosine distance of the original vectors.
    case cosine = 2

    /// Prepares a vector for storage or as a query: unit length for cosine
    /// (returns nil for a zero vector, which has no direction and cannot be
    /// indexed by angle), unchanged otherwise.
    public func prepare(_ vector: [Float]) -> [Float]? {
        guard self == .cosine else { return vector }
        var result = vector
        let norm = vector.withUnsafeBufferPointer { VectorMath.norm($0.baseAddress!, count: vector.count) }
        if norm == 0 { return nil }
        result.withUnsafeMutableBufferPointer { out in
            vector.withUnsafeBufferPointer { VectorMath.normalize($0.baseAddress!, count: vector.count, into: out.baseAddress!) }
        }
        return result
    }

    /// The distance function over prepared vectors, using the fastest
    /// kernels this CPU has. Copy it out once; do not look it up per call.
    public var function: @Sendable (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Float {
        let kernels = DistanceKernels.best
        switch self {
        case .l2: return kernels.l2Squared
        case .dot:
            let dot = kernels.dot
            return { -dot($0, $1, $2) }
        case .cosine:
            let dot = kernels.dot
            return { max(0, 1 - dot($0, $1, $2)) }
        }
    }
}
