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
        var result = vector
        let ok = result.withUnsafeMutableBufferPointer { out in
            vector.withUnsafeBufferPointer { prepare($0.baseAddress!, count: vector.count, into: out.baseAddress!) }
        }
        return ok ? result : nil
    }

    /// Writes the prepared form of `count` floats to `out`; false for a zero
    /// vector under cosine.
    public func prepare(_ vector: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>) -> Bool {
        guard self == .cosine else {
            out.update(from: vector, count: count)
            return true
        }
        if VectorMath.norm(vector, count: count) == 0 { return false }
        VectorMath.normalize(vector, count: count, into: out)
        return true
    }

    /// The distance function over prepared vectors, using the fastest
    /// kernels this CPU has. Copy it out once; do not look it up per call.
    public var function: DistanceFunction { DistanceFunction(metric: self, kernels: DistanceKernels.best) }
}

/// A metric bound to a kernel family: a small value, cheap to call.
public struct DistanceFunction: Sendable {
    public let metric: Metric
    @usableFromInline let l2Squared: DistanceKernels.Pair
    @usableFromInline let dot: DistanceKernels.Pair

    public init(metric: Metric, kernels: DistanceKernels) {
        self.metric = metric
        self.l2Squared = kernels.l2Squared
        self.dot = kernels.dot
    }

    @inlinable @inline(__always)
    public func callAsFunction(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        switch metric {
        case .l2: return l2Squared(a, b, count)
        case .dot: return -dot(a, b, count)
        case .cosine: return max(0, 1 - dot(a, b, count))
        }
    }
}
