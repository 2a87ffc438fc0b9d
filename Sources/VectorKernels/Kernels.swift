// Distance and arithmetic kernels over float32 buffers.
//
// Every function here is `@inlinable @inline(__always)` on purpose: the bodies
// are compiled again inside `VectorKernelsAVX2` and `VectorKernelsAVX512`,
// whose modules are built with a wider `-target-cpu`. That is how one source
// yields SSE2, AVX2+FMA and AVX-512 machine code; `VectorCore` picks one at
// run time from the CPU's features.
//
// Swift does not vectorise a floating-point reduction by itself (it may not
// reassociate the additions), so the reductions are written with explicit
// SIMD16 accumulators. Four independent accumulators hide the add latency.

/// The number of float lanes one kernel step consumes.
public let kernelLanes = 16

@inlinable @inline(__always)
func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD16<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
}

/// Sum of the 16 lanes as a tree of halvings (4 vector adds). `SIMD.sum()`
/// must add the lanes in order (floating-point addition does not
/// reassociate), a chain of 15 dependent adds that costs more than the whole
/// dot product of a 50-dimensional vector.
@inlinable @inline(__always)
func horizontalSum(_ v: SIMD16<Float>) -> Float {
    let v8 = v.lowHalf + v.highHalf
    let v4 = v8.lowHalf + v8.highHalf
    let v2 = v4.lowHalf + v4.highHalf
    return v2[0] + v2[1]
}

/// `acc + x * y`, fused when the instantiating module asks for it.
///
/// Without FMA in the target, `addingProduct` becomes a call to `fmaf`, which
/// is far slower than a separate multiply and add; hence the flag.
@inlinable @inline(__always)
func multiplyAdd(_ acc: SIMD16<Float>, _ x: SIMD16<Float>, _ y: SIMD16<Float>, fused: Bool) -> SIMD16<Float> {
    fused ? acc.addingProduct(x, y) : acc + x * y
}

/// Squared Euclidean distance, sum((a[i] - b[i])^2).
@inlinable @inline(__always)
public func l2SquaredKernel(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int, fused: Bool) -> Float {
    var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
    var i = 0
    while i + 64 <= n {
        let d0 = load(a, i) - load(b, i)
        let d1 = load(a, i + 16) - load(b, i + 16)
        let d2 = load(a, i + 32) - load(b, i + 32)
        let d3 = load(a, i + 48) - load(b, i + 48)
        s0 = multiplyAdd(s0, d0, d0, fused: fused)
        s1 = multiplyAdd(s1, d1, d1, fused: fused)
        s2 = multiplyAdd(s2, d2, d2, fused: fused)
        s3 = multiplyAdd(s3, d3, d3, fused: fused)
        i += 64
    }
    while i + 16 <= n {
        let d = load(a, i) - load(b, i)
        s0 = multiplyAdd(s0, d, d, fused: fused)
        i += 16
    }
    var sum = horizontalSum((s0 + s1) + (s2 + s3))
    while i < n {
        let d = a[i] - b[i]
        sum += d * d
        i += 1
    }
    return sum
}

/// Inner product, sum(a[i] * b[i]).
@inlinable @inline(__always)
public func dotKernel(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int, fused: Bool) -> Float {
    var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
    var i = 0
    while i + 64 <= n {
        s0 = multiplyAdd(s0, load(a, i), load(b, i), fused: fused)
        s1 = multiplyAdd(s1, load(a, i + 16), load(b, i + 16), fused: fused)
        s2 = multiplyAdd(s2, load(a, i + 32), load(b, i + 32), fused: fused)
        s3 = multiplyAdd(s3, load(a, i + 48), load(b, i + 48), fused: fused)
        i += 64
    }
    while i + 16 <= n {
        s0 = multiplyAdd(s0, load(a, i), load(b, i), fused: fused)
        i += 16
    }
    var sum = horizontalSum((s0 + s1) + (s2 + s3))
    while i < n {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}

/// The three sums cosine distance needs, in one pass over both vectors:
/// a·b, a·a and b·b.
@inlinable @inline(__always)
public func cosineTermsKernel(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int, fused: Bool
) -> (dot: Float, normA: Float, normB: Float) {
    var dot0 = SIMD16<Float>(), dot1 = SIMD16<Float>()
    var aa0 = SIMD16<Float>(), aa1 = SIMD16<Float>()
    var bb0 = SIMD16<Float>(), bb1 = SIMD16<Float>()
    var i = 0
    while i + 32 <= n {
        let x0 = load(a, i), y0 = load(b, i)
        let x1 = load(a, i + 16), y1 = load(b, i + 16)
        dot0 = multiplyAdd(dot0, x0, y0, fused: fused)
        dot1 = multiplyAdd(dot1, x1, y1, fused: fused)
        aa0 = multiplyAdd(aa0, x0, x0, fused: fused)
        aa1 = multiplyAdd(aa1, x1, x1, fused: fused)
        bb0 = multiplyAdd(bb0, y0, y0, fused: fused)
        bb1 = multiplyAdd(bb1, y1, y1, fused: fused)
        i += 32
    }
    while i + 16 <= n {
        let x = load(a, i), y = load(b, i)
        dot0 = multiplyAdd(dot0, x, y, fused: fused)
        aa0 = multiplyAdd(aa0, x, x, fused: fused)
        bb0 = multiplyAdd(bb0, y, y, fused: fused)
        i += 16
    }
    var dot = horizontalSum(dot0 + dot1), aa = horizontalSum(aa0 + aa1), bb = horizontalSum(bb0 + bb1)
    while i < n {
        dot += a[i] * b[i]
        aa += a[i] * a[i]
        bb += b[i] * b[i]
        i += 1
    }
    return (dot, aa, bb)
}

/// `state[i] += Double(v[i])`: the running sum behind `sum(vector)` and
/// `avg(vector)`. Summing in double keeps long aggregates accurate.
@inlinable @inline(__always)
public func accumulateKernel(_ state: UnsafeMutablePointer<Double>, _ v: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 8 <= n {
        let x = SIMD8<Double>(UnsafeRawPointer(v + i).loadUnaligned(as: SIMD8<Float>.self))
        let s = UnsafeRawPointer(state + i).loadUnaligned(as: SIMD8<Double>.self)
        UnsafeMutableRawPointer(state + i).storeBytes(of: s + x, as: SIMD8<Double>.self)
        i += 8
    }
    while i < n {
        state[i] += Double(v[i])
        i += 1
    }
}
