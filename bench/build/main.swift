// The in-memory graph build alone (what CREATE INDEX spends most of its time
// on), without PostgreSQL: loads a float32 .npy matrix, prepares the vectors
// for the metric, links them on N threads and reports the time and, with a
// query count, recall@10 of a basic search against exact ground truth.
//
// Usage: vectors-bench-build FILE.npy ROWS [threads=3] [metric=cosine] [m=16] [ef_construction=100] [queries=200] [ef_search=100]
// (build with -c release). The last `queries` rows of the file are the queries.
import Foundation
import HNSW

func loadNPY(_ path: String) -> (rows: Int, cols: Int, data: [Float]) {
    let bytes = FileManager.default.contents(atPath: path)!
    let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
    let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
    precondition(header.contains("'<f4'"), "need a float32 .npy: \(header)")
    let shape = header.split(separator: "(")[1].split(separator: ")")[0].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    let start = 10 + headerLength
    let raw = bytes[start...].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    guard header.contains("'fortran_order': True") else { return (shape[0], shape[1], raw) }
    var data = [Float](repeating: 0, count: raw.count)  // column-major on disk
    for r in 0..<shape[0] { for c in 0..<shape[1] { data[r * shape[1] + c] = raw[c * shape[0] + r] } }
    return (shape[0], shape[1], data)
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

let args = CommandLine.arguments
guard args.count >= 3, let rows = Int(args[2]) else {
    print("usage: vectors-bench-build FILE.npy ROWS [threads] [metric] [m] [ef_construction] [queries]")
    exit(2)
}
let threads = args.count > 3 ? Int(args[3])! : 3
let metric: Metric = switch args.count > 4 ? args[4] : "cosine" { case "l2": .l2; case "dot": .dot; default: .cosine }
let m = args.count > 5 ? Int(args[5])! : 16
let efConstruction = args.count > 6 ? Int(args[6])! : 100
let queryCount = args.count > 7 ? Int(args[7])! : 200
let efSearch = args.count > 8 ? Int(args[8])! : 100
let (total, dims, data) = loadNPY(args[1])
precondition(rows + queryCount <= total, "the file has \(total) rows")

let graph = MemoryGraph(dimensions: dims, metric: metric, parameters: HNSWParameters(m: m, efConstruction: efConstruction))
var rng = SystemRandomNumberGenerator()
var prepared = [Float](repeating: 0, count: dims)
for i in 0..<rows {
    data.withUnsafeBufferPointer { p in
        _ = prepared.withUnsafeMutableBufferPointer { metric.prepare(p.baseAddress! + i * dims, count: dims, into: $0.baseAddress!) }
    }
    try graph.append(prepared, level: graph.parameters.level(forUniform: Double.random(in: 0..<1, using: &rng).nextUp))
}
let start = now()
let linked = try graph.linkAll(from: 0, threads: threads, shouldStop: { false })
let seconds = now() - start
print(String(format: "%d x %d-d %@, m %d, ef_construction %d, %d threads: linked %d in %.2f s (%.0f nodes/s)",
             rows, dims, "\(metric)", m, efConstruction, threads, linked, seconds, Double(linked) / seconds))

let unreachable = graph.unreachableNodes().count
let afterReconnect = try graph.reconnectUnreachable()  // as vectors_build_link does
print("unreachable after linking: \(unreachable); after CREATE INDEX's reconnection pass: \(afterReconnect)")
let degree = (0..<Int32(linked)).reduce(0) { $0 + graph.neighbors(of: $1, level: 0).count }
print(String(format: "layer-0 links per node: %.1f on average (at most %d)", Double(degree) / Double(max(linked, 1)), 2 * m))
guard queryCount > 0 else { exit(0) }
let distance = metric.function
var hits = 0
for q in 0..<queryCount {
    let query = metric.prepare(Array(data[((total - 1 - q) * dims)..<((total - q) * dims)]))!
    var exact: [(Float, Int32)] = []
    query.withUnsafeBufferPointer { qp in
        for node in 0..<Int32(rows) {
            exact.append((graph.withVector(of: node) { distance(qp.baseAddress!, $0, dims) }, node))
        }
    }
    exact.sort { $0.0 < $1.0 }
    let truth = Set(exact.prefix(10).map(\.1))
    let found = try graph.search(query: query, ef: efSearch).prefix(10)
    hits += found.filter { truth.contains($0.node) }.count
}
print(String(format: "recall@10 at ef_search %d over %d queries: %.4f", efSearch, queryCount, Double(hits) / Double(queryCount * 10)))
