import Testing
@testable import VectorCore

/// Straightforward double-precision references for the kernels.
enum Reference {
    static func l2Squared(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }
    }
    static func dot(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }
    /// Sum of absolute products: the scale that bounds float rounding error.
    static func magnitude(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0) { $0 + abs(Double($1.0) * Double($1.1)) }
    }
}

func randomVector(_ count: Int, _ rng: inout SplitMix64) -> [Float] {
    (0..<count).map { _ in Float.random(in: -2...2, using: &rng) }
}

@Suite struct Kernels {
    static let lengths = Array(1...130) + [255, 256, 257, 511, 512, 768, 1536, 65535]

    @Test(arguments: DistanceKernels.supported.map(\.name.description))
    func matchScalarReference(family: String) {
        let kernels = DistanceKernels.supported.first { $0.name.description == family }!
        var rng = SplitMix64(seed: 1)
        for n in Self.lengths {
            let a = randomVector(n, &rng), b = randomVector(n, &rng)
            // float32 accumulation error grows with the number of terms.
            let tolerance = 1e-5 * Double(n).squareRoot()
            let l2 = Double(kernels.l2Squared(a, b, n))
            let diff = zip(a, b).map { $0 - $1 }
            #expect(abs(l2 - Reference.l2Squared(a, b)) <= tolerance * Reference.magnitude(diff, diff), "l2 n=\(n)")
            let dot = Double(kernels.dot(a, b, n))
            #expect(abs(dot - Reference.dot(a, b)) <= tolerance * Reference.magnitude(a, b), "dot n=\(n)")
            let terms = kernels.cosineTerms(a, b, n)
            #expect(abs(Double(terms.dot) - Reference.dot(a, b)) <= tolerance * Reference.magnitude(a, b))
            #expect(abs(Double(terms.normA) - Reference.dot(a, a)) <= tolerance * Reference.dot(a, a))
            #expect(abs(Double(terms.normB) - Reference.dot(b, b)) <= tolerance * Reference.dot(b, b))
        }
    }

    @Test func bestIsAnAcceleratedFamilyWhereOneExists() {
        let names = DistanceKernels.supported.map(\.name.description)
        #expect(names.first == "baseline")
        #expect(names.contains(DistanceKernels.best.name.description))
        if names.count > 1 { #expect(DistanceKernels.best.name.description != "baseline") }
    }

    /// The choice between AVX2 and AVX-512 is made by timing, so it may differ
    /// between processes: both must give bit-identical results (a replica
    /// or another backend must order rows exactly alike).
    @Test func acceleratedFamiliesAgreeBitForBit() {
        let accelerated = DistanceKernels.supported.filter { $0.name.description != "baseline" }
        guard accelerated.count > 1 else { return }
        var rng = SplitMix64(seed: 5)
        for n in [1, 7, 16, 50, 63, 64, 65, 127, 384, 512, 1536, 65535] {
            let a = randomVector(n, &rng), b = randomVector(n, &rng)
            let results = accelerated.map { ($0.l2Squared(a, b, n).bitPattern, $0.dot(a, b, n).bitPattern) }
            #expect(results.allSatisfy { $0 == results[0] }, "n=\(n)")
        }
    }

    @Test func exactOnSmallIntegers() {
        let a: [Float] = [1, 2, 3], b: [Float] = [4, 6, 3]
        #expect(VectorMath.l2Squared(a, b, count: 3) == 25)
        #expect(VectorMath.dot(a, b, count: 3) == 25)
    }

    @Test func cosineDistance() {
        let a: [Float] = [1, 0], b: [Float] = [0, 1], c: [Float] = [-2, 0], zero: [Float] = [0, 0]
        #expect(VectorMath.cosineDistance(a, a, count: 2) == 0)
        #expect(VectorMath.cosineDistance(a, b, count: 2) == 1)
        #expect(VectorMath.cosineDistance(a, c, count: 2) == 2)
        #expect(VectorMath.cosineDistance(a, zero, count: 2).isNaN)
        #expect(VectorMath.cosineDistance(zero, zero, count: 2).isNaN)
        // Norms whose product overflows float still give the right answer.
        let big: [Float] = [3e30, 4e30]
        #expect(abs(VectorMath.cosineDistance(big, big, count: 2)) < 1e-6)
    }

    @Test func normAndNormalize() {
        let a: [Float] = [3, 4]
        #expect(VectorMath.norm(a, count: 2) == 5)
        var out = [Float](repeating: 9, count: 2)
        VectorMath.normalize(a, count: 2, into: &out)
        #expect(out == [0.6, 0.8])
        VectorMath.normalize([0, 0], count: 2, into: &out)
        #expect(out == [0, 0])
    }

    @Test func elementwiseReportsOverflow() {
        var out = [Float](repeating: 0, count: 2)
        #expect(VectorMath.elementwise(.add, [1, 2], [3, 4], count: 2, into: &out) && out == [4, 6])
        #expect(VectorMath.elementwise(.subtract, [1, 2], [3, 5], count: 2, into: &out) && out == [-2, -3])
        #expect(VectorMath.elementwise(.multiply, [1, 2], [3, 4], count: 2, into: &out) && out == [3, 8])
        let big = Float.greatestFiniteMagnitude
        #expect(!VectorMath.elementwise(.add, [big, 1], [big, 1], count: 2, into: &out))
        #expect(!VectorMath.elementwise(.multiply, [big, 1], [2, 1], count: 2, into: &out))
    }

    @Test func accumulateInDouble() {
        var state = [Double](repeating: 0, count: 19)
        var rng = SplitMix64(seed: 3)
        var expected = [Double](repeating: 0, count: 19)
        for _ in 0..<100 {
            let v = randomVector(19, &rng)
            VectorMath.accumulate(v, count: 19, into: &state)
            for i in 0..<19 { expected[i] += Double(v[i]) }
        }
        #expect(state == expected)
    }

    @Test func compareIsATotalOrderWithPrefixFirst() {
        func cmp(_ a: [Float], _ b: [Float]) -> Int32 { VectorMath.compare(a, count: a.count, b, count: b.count) }
        #expect(cmp([1, 2], [1, 2]) == 0)
        #expect(cmp([1, 2], [1, 3]) == -1)
        #expect(cmp([2], [1, 3]) == 1)
        #expect(cmp([1], [1, 0]) == -1)
        #expect(cmp([1, 0], [1]) == 1)
        #expect(cmp([-0.0], [0]) == 0)
    }

    @Test func hashAgreesWithEquality() {
        let h = { (a: [Float], seed: UInt64) in VectorMath.hash(a, count: a.count, seed: seed) }
        #expect(h([0, 1], 0) == h([-0.0, 1], 0))
        #expect(h([1, 2], 0) != h([2, 1], 0))
        #expect(h([1], 0) != h([1, 0], 0))
        #expect(h([1, 2], 0) != h([1, 2], 1))
        // Distinct small vectors should essentially never collide.
        var seen = Set<UInt64>()
        for i in 0..<10_000 { seen.insert(h([Float(i), Float(i % 7)], 0)) }
        #expect(seen.count == 10_000)
    }
}
