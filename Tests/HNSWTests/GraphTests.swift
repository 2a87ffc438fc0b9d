import Testing
@testable import HNSW

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Points around random centres: harder for a graph than uniform noise,
/// closer to real embeddings.
func clusteredData(count: Int, dimensions: Int, seed: UInt64) -> [[Float]] {
    var rng = SplitMix64(seed: seed)
    let centres = (0..<20).map { _ in (0..<dimensions).map { _ in Float.random(in: -1...1, using: &rng) } }
    return (0..<count).map { i in
        centres[i % centres.count].map { $0 + Float.random(in: -0.3...0.3, using: &rng) }
    }
}

func exactNearest(_ data: [[Float]], live: (Int) -> Bool, query: [Float], k: Int, metric: Metric) -> [Int] {
    let distance = metric.function
    var scored: [(Float, Int)] = []
    for (i, v) in data.enumerated() where live(i) {
        scored.append((v.withUnsafeBufferPointer { a in query.withUnsafeBufferPointer { distance($0.baseAddress!, a.baseAddress!, v.count) } }, i))
    }
    return scored.sorted { $0.0 < $1.0 }.prefix(k).map(\.1)
}

func buildGraph(_ data: [[Float]], metric: Metric, parameters: HNSWParameters, seed: UInt64) throws -> MemoryGraph {
    let graph = MemoryGraph(dimensions: data[0].count, metric: metric, parameters: parameters)
    var rng = SplitMix64(seed: seed)
    for v in data {
        try graph.add(metric.prepare(v)!, level: parameters.level(forUniform: Double.random(in: 0..<1, using: &rng).nextUp))
    }
    return graph
}

func recall(graph: MemoryGraph, data: [[Float]], queries: [[Float]], k: Int, ef: Int, live: (Int) -> Bool) throws -> Double {
    var hits = 0
    for q in queries {
        let prepared = graph.metric.prepare(q)!
        let truth = Set(exactNearest(data.map { graph.metric.prepare($0)! }, live: live, query: prepared, k: k, metric: graph.metric))
        let found = try graph.search(query: prepared, ef: ef).prefix(k).map { Int($0.node) }
        hits += found.filter(truth.contains).count
    }
    return Double(hits) / Double(queries.count * k)
}

@Suite struct HNSWGraph {
    let parameters = HNSWParameters(m: 12, efConstruction: 64)

    @Test(arguments: Metric.allCases)
    func recallAgainstExactSearch(metric: Metric) throws {
        let all = clusteredData(count: 3050, dimensions: 24, seed: 11)
        let data = Array(all.prefix(3000)), queries = Array(all.suffix(50))
        let graph = try buildGraph(data, metric: metric, parameters: parameters, seed: 5)
        let r = try recall(graph: graph, data: data, queries: queries, k: 10, ef: 64, live: { _ in true })
        #expect(r >= 0.97, "recall@10 \(r) for \(metric)")
    }

    @Test func resultsAreSortedAndBoundedByEf() throws {
        let data = clusteredData(count: 500, dimensions: 8, seed: 3)
        let graph = try buildGraph(data, metric: .l2, parameters: parameters, seed: 1)
        let found = try graph.search(query: data[7], ef: 20)
        #expect(found.count == 20)
        #expect(found.first?.node == 7 && found.first?.distance == 0)
        #expect(zip(found, found.dropFirst()).allSatisfy { $0.distance <= $1.distance })
    }

    @Test func neighbourListsRespectTheirLimits() throws {
        let data = clusteredData(count: 1000, dimensions: 8, seed: 4)
        let graph = try buildGraph(data, metric: .l2, parameters: parameters, seed: 2)
        for node in 0..<Int32(graph.count) {
            for level in 0...graph.level(of: node) {
                let list = graph.neighbors(of: node, level: level)
                #expect(list.count <= parameters.maxNeighbors(level: level))
                #expect(!list.contains(node))
                #expect(Set(list).count == list.count)
            }
        }
    }

    @Test func emptyAndSingleNodeGraphs() throws {
        let graph = MemoryGraph(dimensions: 3, metric: .l2, parameters: parameters)
        #expect(try graph.search(query: [0, 0, 0], ef: 10).isEmpty)
        try graph.add([1, 2, 3], level: 2)
        let found = try graph.search(query: [0, 0, 0], ef: 10)
        #expect(found.map(\.node) == [0] && found[0].distance == 14)
    }

    @Test func zeroVectorsHaveNoCosineForm() {
        #expect(Metric.cosine.prepare([0, 0]) == nil)
        #expect(Metric.l2.prepare([0, 0]) == [0, 0])
        #expect(Metric.cosine.prepare([3, 4]) == [0.6, 0.8])
    }

    /// Deleting half the nodes and repairing keeps recall over the rest.
    @Test func repairAfterDeletingHalf() throws {
        let all = clusteredData(count: 3050, dimensions: 16, seed: 21)
        let data = Array(all.prefix(3000)), queries = Array(all.suffix(50))
        let graph = try buildGraph(data, metric: .l2, parameters: parameters, seed: 8)
        var coin = SplitMix64(seed: 1234)
        for node in 0..<Int32(graph.count) where coin.next() % 2 == 0 { graph.deleted.insert(node) }
        let deletedSet = graph.deleted
        var repaired = 0
        for node in 0..<Int32(graph.count) where !graph.deleted.contains(node) {
            if try graph.repairNeighbors(of: node, parameters: parameters, isDeleted: { graph.deleted.contains($0) }) {
                repaired += 1
            }
        }
        #expect(repaired > 0)
        // After repair no live node links to a deleted one.
        for node in 0..<Int32(graph.count) where !graph.deleted.contains(node) {
            for level in 0...graph.level(of: node) {
                #expect(graph.neighbors(of: node, level: level).allSatisfy { !graph.deleted.contains($0) })
            }
        }
        let r = try recall(graph: graph, data: data, queries: queries, k: 10, ef: 64, live: { !deletedSet.contains(Int32($0)) })
        #expect(r >= 0.95, "recall@10 after repair \(r)")
    }

    @Test func levelsFollowTheGeometricDistribution() {
        var rng = SplitMix64(seed: 9)
        let p = HNSWParameters(m: 16, efConstruction: 10)
        var counts = [Int](repeating: 0, count: 20)
        for _ in 0..<100_000 { counts[p.level(forUniform: Double.random(in: 0..<1, using: &rng).nextUp)] += 1 }
        // P(level >= 1) = 1/16.
        #expect(abs(Double(100_000 - counts[0]) / 100_000 - 1.0 / 16) < 0.005)
        #expect(p.level(forUniform: .leastNonzeroMagnitude) == HNSWParameters.maxLevel)
    }
}

@Suite struct Streaming {
    let parameters = HNSWParameters(m: 8, efConstruction: 32)

    /// Exhausting the stream returns every live node exactly once.
    @Test func exhaustsTheGraph() throws {
        let data = clusteredData(count: 800, dimensions: 8, seed: 5)
        let graph = try buildGraph(data, metric: .l2, parameters: parameters, seed: 3)
        for node in stride(from: Int32(0), to: 800, by: 7) { graph.deleted.insert(node) }
        let stream = SearchStream(graph: graph, query: data[3], ef: 10, continues: true, memoryLimit: .max)
        var seen: [Int32] = []
        while let c = try stream.next() { seen.append(c.node) }
        #expect(seen.count == 800 - graph.deleted.count)
        #expect(Set(seen).count == seen.count)
        #expect(seen.allSatisfy { !graph.deleted.contains($0) })
        #expect(seen.first == 3)
    }

    /// The first ef results are phase 1's, in exact order; basic mode stops there.
    @Test func basicModeStopsAfterPhaseOne() throws {
        let data = clusteredData(count: 500, dimensions: 8, seed: 6)
        let graph = try buildGraph(data, metric: .l2, parameters: parameters, seed: 4)
        let basic = SearchStream(graph: graph, query: data[0], ef: 20, continues: false, memoryLimit: .max)
        var results: [Candidate<Int32>] = []
        while let c = try basic.next() { results.append(c) }
        #expect(results.count == 20)
        #expect(zip(results, results.dropFirst()).allSatisfy { $0.distance <= $1.distance })
        #expect(results.map(\.node) == (try graph.search(query: data[0], ef: 20)).map(\.node))
    }

    /// Later results are approximately ordered: recall of each successive
    /// window of 50 against the exact ranking stays high.
    @Test func laterResultsAreApproximatelyOrdered() throws {
        let all = clusteredData(count: 2050, dimensions: 12, seed: 8)
        let data = Array(all.prefix(2000))
        let graph = try buildGraph(data, metric: .l2, parameters: HNSWParameters(m: 12, efConstruction: 64), seed: 2)
        let query = all[2010]
        let exact = exactNearest(data, live: { _ in true }, query: query, k: 300, metric: .l2)
        let stream = SearchStream(graph: graph, query: query, ef: 40, continues: true, memoryLimit: .max)
        var got: [Int] = []
        while got.count < 300, let c = try stream.next() { got.append(Int(c.node)) }
        let overlap = Set(got).intersection(exact).count
        #expect(Double(overlap) / 300 >= 0.9, "overlap \(overlap)")
    }

    @Test func memoryLimitEndsTheStream() throws {
        let data = clusteredData(count: 1000, dimensions: 8, seed: 9)
        let graph = try buildGraph(data, metric: .l2, parameters: parameters, seed: 5)
        let stream = SearchStream(graph: graph, query: data[0], ef: 10, continues: true, memoryLimit: 20_000)
        var count = 0
        while try stream.next() != nil { count += 1 }
        #expect(stream.hitMemoryLimit)
        #expect(count >= 10 && count < 1000)
    }
}

@Suite struct Reconnection {
    /// Cutting a node's incoming links makes it unreachable; reconnecting
    /// makes every live node reachable again.
    @Test func reconnectsOrphans() throws {
        let parameters = HNSWParameters(m: 6, efConstruction: 32)
        let data = clusteredData(count: 600, dimensions: 8, seed: 12)
        let graph = try buildGraph(data, metric: .l2, parameters: parameters, seed: 3)
        #expect(graph.unreachableNodes().isEmpty)
        let victims: Set<Int32> = [5, 77, 300]
        for node in 0..<Int32(graph.count) {
            for level in 0...graph.level(of: node) {
                let list = graph.neighbors(of: node, level: level)
                try graph.setNeighbors(of: node, level: level, to: list.filter { !victims.contains($0) })
            }
        }
        #expect(Set(graph.unreachableNodes()) == victims)
        #expect(try graph.reconnectUnreachable() == 0)
        #expect(graph.unreachableNodes().isEmpty)
        #expect(try graph.search(query: data[77], ef: 10).first?.node == 77)
    }

    /// Inserting one node at a time as the page storage does (a full list
    /// re-selects with refill; no reconnection pass afterwards): points far
    /// from a cluster, under inner product, used to leave nodes no path
    /// reaches; with `keepsIncomingLinks` (pinned links) every node stays
    /// reachable, even at m = 4, where groups of nodes linking only to each
    /// other are common.
    @Test(arguments: [(false, 8), (true, 8), (true, 4)])
    func insertsKeepEveryNodeReachable(keepsIncomingLinks: Bool, m: Int) throws {
        let parameters = HNSWParameters(m: m, efConstruction: 32)
        var rng = SplitMix64(seed: 99)
        let near = clusteredData(count: 1500, dimensions: 8, seed: 21)
        let far = (0..<1500).map { _ in (0..<8).map { _ in Float.random(in: -6...6, using: &rng) } }
        var unreachable = 0
        for metric in [Metric.dot, .l2] {
            let graph = MemoryGraph(dimensions: 8, metric: metric, parameters: parameters)
            graph.refillsOnReselection = true
            graph.keepsIncomingLinks = keepsIncomingLinks
            for (i, v) in (near + far).enumerated() {
                try graph.add(metric.prepare(v)!, level: parameters.level(forUniform: Double.random(in: 0..<1, using: &rng).nextUp))
                if keepsIncomingLinks && i % 100 == 99 {
                    #expect(graph.unreachableNodes().isEmpty, "\(metric): after \(i + 1) inserts")
                }
            }
            unreachable += graph.unreachableNodes().count
        }
        if keepsIncomingLinks {
            #expect(unreachable == 0)
        } else {
            #expect(unreachable > 0, "the data no longer shows the defect the rule fixes")
        }
    }
}

@Suite struct VisitedSets {
    @Test func nodeIDSetMatchesSet() {
        var rng = SplitMix64(seed: 17)
        var fast = NodeIDSet(capacity: 4)
        var reference = Set<UInt64>()
        for _ in 0..<50_000 {
            let node = (rng.next() % 20_000) + 1  // many repeats, forces growth
            #expect(fast.insert(node) == reference.insert(node).inserted)
        }
        #expect(fast.count == reference.count)
        for node in UInt64(1)...20_001 { #expect(fast.contains(node) == reference.contains(node)) }
    }
}

@Suite struct ParallelBuild {
    /// Linking on several threads gives a graph as good as the serial one,
    /// with every list within its limit and every node reachable.
    @Test(arguments: [1, 2, 4])
    func parallelLinkingKeepsRecall(threads: Int) throws {
        let parameters = HNSWParameters(m: 12, efConstruction: 64)
        let all = clusteredData(count: 4050, dimensions: 16, seed: 31)
        let data = Array(all.prefix(4000)), queries = Array(all.suffix(50))
        let graph = MemoryGraph(dimensions: 16, metric: .l2, parameters: parameters)
        var rng = SplitMix64(seed: 7)
        for v in data { try graph.append(v, level: parameters.level(forUniform: Double.random(in: 0..<1, using: &rng).nextUp)) }
        #expect(try graph.linkAll(from: 0, threads: threads, shouldStop: { false }) == 4000)
        for node in 0..<Int32(graph.count) {
            for level in 0...graph.level(of: node) {
                let list = graph.neighbors(of: node, level: level)
                #expect(list.count <= parameters.maxNeighbors(level: level) && !list.contains(node))
            }
        }
        try graph.reconnectUnreachable()
        #expect(graph.unreachableNodes().isEmpty)
        let r = try recall(graph: graph, data: data, queries: queries, k: 10, ef: 64, live: { _ in true })
        #expect(r >= 0.95, "recall \(r) with \(threads) threads")
    }

    /// A stop request ends linking early; calling again finishes the job.
    @Test func stopAndResume() throws {
        let parameters = HNSWParameters(m: 12, efConstruction: 64)
        let data = clusteredData(count: 3000, dimensions: 8, seed: 2)
        let graph = MemoryGraph(dimensions: 8, metric: .l2, parameters: parameters)
        var rng = SplitMix64(seed: 3)
        for v in data { try graph.append(v, level: parameters.level(forUniform: Double.random(in: 0..<1, using: &rng).nextUp)) }
        var polls = 0
        let partial = try graph.linkAll(from: 0, threads: 2, shouldStop: { polls += 1; return polls >= 3 })
        #expect(partial > 0 && partial < 3000)
        #expect(try graph.linkAll(from: partial, threads: 2, shouldStop: { false }) == 3000)
        let probes = stride(from: 0, to: 3000, by: 97).map { $0 }
        let selfFound = try probes.filter { try graph.search(query: data[$0], ef: 40).first?.node == Int32($0) }.count
        #expect(selfFound >= probes.count - 1)
        #expect(try graph.reconnectUnreachable() == 0)
    }
}

/// Running out of memory, or a broken contract, is a thrown `GraphFailure`
/// (a PostgreSQL backend turns it into an ERROR); nothing traps.
@Suite struct Failures {
    /// A mapper that refuses above 4 MiB: the vectors of 1,024 dimensions
    /// grow to 1,024 nodes (4 MiB), then doubling to 2,048 is refused. The
    /// graph keeps what it had and stays usable.
    @Test func appendReportsOutOfMemory() throws {
        let parameters = HNSWParameters(m: 4, efConstruction: 8)
        let graph = MemoryGraph(
            dimensions: 1024, metric: .l2, parameters: parameters, mapper: .refusing(above: 4 << 20))
        var failure: GraphFailure?
        for i in 0..<3000 {
            do {
                try graph.append((0..<1024).map { Float(i + $0 % 3) }, level: i % 5 == 0 ? 1 : 0)
            } catch {
                failure = error
                break
            }
        }
        #expect(failure == .outOfMemory(bytes: 2048 * 1024 * 4))
        #expect(graph.count == 1024)
        #expect(graph.vector(of: 1023) == (0..<1024).map { Float(1023 + $0 % 3) })
        // Still refused, still intact; linking what is there works.
        #expect(throws: GraphFailure.outOfMemory(bytes: 2048 * 1024 * 4)) {
            try graph.append([Float](repeating: 1, count: 1024), level: 0)
        }
        #expect(graph.count == 1024)
        #expect(try graph.linkAll(from: 0, threads: 2, shouldStop: { false }) == 1024)
        #expect(try graph.search(query: graph.vector(of: 500), ef: 16).first?.node == 500)
    }

    /// Small arrays live in malloc'ed memory, large ones in mappings; the
    /// contents survive every growth, and a refused one leaves the array
    /// as it was.
    @Test func buildArrayGrowsAndRefuses() throws {
        var array = BuildArray<Int32>()
        defer { array.release() }
        let mapper = PageMapper.refusing(above: 8 << 20)
        try array.grow(to: 1000, used: 0, mapper: mapper)
        for i in 0..<1000 { array[i] = Int32(i) }
        try array.grow(to: 1 << 20, used: 1000, mapper: mapper)  // 4 MiB: mapped
        for i in 1000..<(1 << 20) { array[i] = Int32(i) }
        try array.grow(to: 2 << 20, used: 1 << 20, mapper: mapper)  // 8 MiB: remapped
        #expect(throws: GraphFailure.outOfMemory(bytes: 16 << 20)) {
            try array.grow(to: 4 << 20, used: 2 << 20, mapper: mapper)
        }
        #expect(array.capacity == 2 << 20)
        #expect((0..<(1 << 20)).allSatisfy { array[$0] == Int32($0) })
        #expect(throws: GraphFailure.outOfMemory(bytes: .max)) {
            try array.grow(to: .max / 2, used: 0, mapper: mapper)
        }
    }

    @Test func brokenContractsThrow() throws {
        let parameters = HNSWParameters(m: 4, efConstruction: 16)
        let graph = try buildGraph(clusteredData(count: 50, dimensions: 4, seed: 5), metric: .l2, parameters: parameters, seed: 1)
        #expect(throws: GraphFailure.self) { try graph.search(query: [1, 2, 3], ef: 10) }
        #expect(throws: GraphFailure.self) { try graph.append([1, 2, 3], level: 0) }
        #expect(throws: GraphFailure.self) { try graph.append([1, 2, 3, 4], level: -1) }
        let stream = SearchStream(graph: graph, query: [1, 2], ef: 10, continues: true, memoryLimit: 1 << 20)
        #expect(throws: GraphFailure.self) { try stream.next() }
        let low = try #require((0..<Int32(50)).first { graph.level(of: $0) == 0 })
        #expect(throws: GraphFailure.self) { try graph.setNeighbors(of: low, level: 1, to: []) }
        #expect(throws: GraphFailure.self) { try graph.setNeighbors(of: low, level: 0, to: Array(0..<9)) }
        var visited = NodeIDSet()
        let inserted = visited.insert(0)
        #expect(!inserted && visited.count == 0)
    }
}
