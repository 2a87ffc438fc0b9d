// Distance kernel throughput: one query against a block of vectors, as a
// sequential scan or an index's candidate check does it. Prints one JSON
// object per (dimension, metric, implementation); bench/run-kernels.sh adds
// numpy's numbers from the same run and writes the table.
//
//   vectors-bench-kernels [--dims 128,512,768,1536] [--bytes N] [--seconds S]
import VectorCore

var dims = [128, 512, 768, 1536]
var blockBytes = 4 << 20  // 4 MiB: resident in L2/L3, so the kernels, not DRAM, are measured
var seconds = 0.5
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard let value = arguments.popFirst() else { fatalError("missing value for \(flag)") }
    switch flag {
    case "--dims": dims = value.split(separator: ",").map { Int($0)! }
    case "--bytes": blockBytes = Int(value)!
    case "--seconds": seconds = Double(value)!
    default: fatalError("unknown flag \(flag)")
    }
}

/// The naive loop a first implementation would write: the baseline the
/// SIMD kernels are measured against.
@inline(never)
func scalarL2(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var sum: Float = 0
    for i in 0..<n {
        let d = a[i] - b[i]
        sum += d * d
    }
    return sum
}

@inline(never)
func scalarDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var sum: Float = 0
    for i in 0..<n { sum += a[i] * b[i] }
    return sum
}

/// Runs `kernel` over the whole block repeatedly for about `seconds`;
/// returns GB/s of vector data consumed.
func measure(
    block: UnsafeBufferPointer<Float>, query: UnsafePointer<Float>, dim: Int, seconds: Double,
    kernel: (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Float
) -> Double {
    let count = block.count / dim
    let clock = ContinuousClock()
    var passes = 0
    var sink: Float = 0
    let start = clock.now
    var elapsed = Duration.zero
    repeat {
        for v in 0..<count { sink += kernel(block.baseAddress! + v * dim, query, dim) }
        passes += 1
        elapsed = clock.now - start
    } while elapsed < .milliseconds(Int(seconds * 1000))
    if sink == .infinity { print("#", sink) }  // keeps the work observable
    let secondsElapsed = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    return Double(passes * count * dim * MemoryLayout<Float>.size) / secondsElapsed / 1e9
}

print(#"{"best": "\#(DistanceKernels.best.name)"}"#)
var rng = SystemRandomNumberGenerator()
for dim in dims {
    let count = max(1, blockBytes / (dim * MemoryLayout<Float>.size))
    let block = (0..<(count * dim)).map { _ in Float.random(in: -1...1, using: &rng) }
    let query = (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) }
    block.withUnsafeBufferPointer { blockBuffer in
        query.withUnsafeBufferPointer { q in
            var rows: [(String, String, Double)] = [
                ("l2", "scalar", measure(block: blockBuffer, query: q.baseAddress!, dim: dim, seconds: seconds, kernel: scalarL2)),
                ("dot", "scalar", measure(block: blockBuffer, query: q.baseAddress!, dim: dim, seconds: seconds, kernel: scalarDot)),
            ]
            for kernels in DistanceKernels.supported {
                rows.append(("l2", "\(kernels.name)", measure(block: blockBuffer, query: q.baseAddress!, dim: dim, seconds: seconds, kernel: kernels.l2Squared)))
                rows.append(("dot", "\(kernels.name)", measure(block: blockBuffer, query: q.baseAddress!, dim: dim, seconds: seconds, kernel: kernels.dot)))
            }
            for (metric, implementation, gbps) in rows {
                print(#"{"dim": \#(dim), "metric": "\#(metric)", "implementation": "\#(implementation)", "gbps": \#(gbps)}"#)
            }
        }
    }
}
