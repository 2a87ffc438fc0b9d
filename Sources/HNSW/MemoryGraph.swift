/// An HNSW graph held in memory: used to build an index before it is
/// written to pages, and by the tests and benchmarks. Nodes are dense
/// integers in insertion order.
///
/// Storage is flat and manually managed (vectors back to back; layer-0
/// neighbour slots, 2·m per node, back to back), so the search loop touches
/// no reference-counted object per step. Upper layers, which only ~1/m of
/// the nodes have, are ordinary arrays.
public final class MemoryGraph: GraphWriter {
    public typealias Node = Int32

    public let dimensions: Int
    public let metric: Metric
    public let parameters: HNSWParameters
    /// Nodes marked deleted (traversed, never returned).
    public var deleted: Set<Int32> = []
    private var entry: (node: Int32, level: Int)?
    private let distance: DistanceFunction
    private let slots: Int

    public private(set) var count = 0
    private var capacity = 0
    private var vectorStorage: UnsafeMutablePointer<Float>
    private var layer0: UnsafeMutablePointer<Int32>
    private var layer0Counts: UnsafeMutablePointer<UInt16>
    private var levels: [UInt8] = []
    /// upper[node][level - 1]; empty for nodes of level 0.
    private var upper: [[[Int32]]] = []

    public init(dimensions: Int, metric: Metric, parameters: HNSWParameters) {
        self.dimensions = dimensions
        self.metric = metric
        self.parameters = parameters
        self.distance = metric.function
        self.slots = parameters.maxNeighbors(level: 0)
        vectorStorage = .allocate(capacity: 1)
        layer0 = .allocate(capacity: 1)
        layer0Counts = .allocate(capacity: 1)
    }

    deinit {
        vectorStorage.deallocate()
        layer0.deallocate()
        layer0Counts.deallocate()
    }

    private func grow(to minimum: Int) {
        let newCapacity = max(minimum, capacity * 2, 1024)
        func regrow<T>(_ old: UnsafeMutablePointer<T>, _ perNode: Int) -> UnsafeMutablePointer<T> {
            let fresh = UnsafeMutablePointer<T>.allocate(capacity: newCapacity * perNode)
            fresh.moveInitialize(from: old, count: count * perNode)
            old.deallocate()
            return fresh
        }
        vectorStorage = regrow(vectorStorage, dimensions)
        layer0 = regrow(layer0, slots)
        layer0Counts = regrow(layer0Counts, 1)
        capacity = newCapacity
    }

    /// Stores a prepared vector with a level and links it into the graph.
    @discardableResult
    public func add(_ vector: [Float], level: Int) throws -> Int32 {
        let node = append(vector, level: level)
        try link(node)
        return node
    }

    /// Stores a prepared vector without linking it (see `link`).
    @discardableResult
    public func append<C: Collection>(_ vector: C, level: Int) -> Int32 where C.Element == Float {
        precondition(vector.count == dimensions)
        if count == capacity { grow(to: count + 1) }
        let node = Int32(count)
        _ = UnsafeMutableBufferPointer(start: vectorStorage + count * dimensions, count: dimensions)
            .initialize(from: vector)
        layer0Counts[count] = 0
        levels.append(UInt8(level))
        upper.append(Array(repeating: [], count: level))
        count += 1
        return node
    }

    /// Links an appended node into the graph.
    public func link(_ node: Int32) throws {
        try insert(node, vector: vector(of: node), level: level(of: node), parameters: parameters)
    }

    /// Approximate bytes held: vectors, neighbour lists and array overhead.
    public var memoryUsage: Int {
        let perNode = dimensions * 4 + slots * 4 + 2 + 1 + 8
        return capacity * perNode + count / parameters.m * (parameters.m * 4 + 64)
    }

    public func level(of node: Int32) -> Int { Int(levels[Int(node)]) }

    public func entryPoint() -> (node: Int32, level: Int)? { entry }

    public func visit(_ node: Int32, query: UnsafePointer<Float>) -> (distance: Float, live: Bool) {
        let d = distance(query, vectorStorage + Int(node) * dimensions, dimensions)
        return (d, deleted.isEmpty || !deleted.contains(node))
    }

    public func neighbors(of node: Int32, level: Int) -> [Int32] {
        if level == 0 {
            return Array(UnsafeBufferPointer(start: layer0 + Int(node) * slots, count: Int(layer0Counts[Int(node)])))
        }
        let lists = upper[Int(node)]
        return level <= lists.count ? lists[level - 1] : []
    }

    public func forEachNeighbor(of node: Int32, level: Int, _ body: (Int32) throws -> Void) rethrows {
        if level == 0 {
            let start = layer0 + Int(node) * slots
            for i in 0..<Int(layer0Counts[Int(node)]) { try body(start[i]) }
            return
        }
        for n in neighbors(of: node, level: level) { try body(n) }
    }

    public func checkInterrupts() {}

    public func makeVisitedSet() -> DenseVisitedSet { DenseVisitedSet(capacity: count) }

    public func withVector<R>(of node: Int32, _ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try body(vectorStorage + Int(node) * dimensions)
    }

    public func vector(of node: Int32) -> [Float] {
        Array(UnsafeBufferPointer(start: vectorStorage + Int(node) * dimensions, count: dimensions))
    }

    public func setNeighbors(of node: Int32, level: Int, to neighbors: [Int32]) {
        if level == 0 {
            precondition(neighbors.count <= slots)
            let start = layer0 + Int(node) * slots
            for (i, n) in neighbors.enumerated() { start[i] = n }
            layer0Counts[Int(node)] = UInt16(neighbors.count)
        } else {
            upper[Int(node)][level - 1] = neighbors
        }
    }

    public func setEntryPoint(_ node: Int32, level: Int) {
        entry = (node, level)
    }
}
