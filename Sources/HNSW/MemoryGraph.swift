/// An HNSW graph held in memory: used to build an index before it is
/// written to pages, and by the tests and benchmarks. Nodes are dense
/// integers in insertion order.
public final class MemoryGraph: GraphWriter {
    public typealias Node = Int32

    public let dimensions: Int
    public let metric: Metric
    public let parameters: HNSWParameters
    /// Prepared vectors, `dimensions` floats per node.
    public private(set) var vectors: [Float] = []
    /// Per node: its neighbour lists, index 0 = layer 0.
    public private(set) var links: [[[Int32]]] = []
    /// Nodes marked deleted (traversed, never returned).
    public var deleted: Set<Int32> = []
    private var entry: (node: Int32, level: Int)?
    private let distance: DistanceFunction

    public init(dimensions: Int, metric: Metric, parameters: HNSWParameters) {
        self.dimensions = dimensions
        self.metric = metric
        self.parameters = parameters
        self.distance = metric.function
    }

    public var count: Int { links.count }

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
        let node = Int32(links.count)
        vectors.append(contentsOf: vector)
        links.append(Array(repeating: [], count: level + 1))
        return node
    }

    /// Links an appended node into the graph.
    public func link(_ node: Int32) throws {
        try insert(node, vector: vector(of: node), level: level(of: node), parameters: parameters)
    }

    /// Approximate bytes held: vectors, neighbour lists and array overhead.
    public var memoryUsage: Int {
        let perNode = dimensions * 4 + parameters.maxNeighbors(level: 0) * 4 + 96
        return links.count * perNode + links.count / parameters.m * (parameters.m * 4 + 48)
    }

    public func level(of node: Int32) -> Int { links[Int(node)].count - 1 }

    public func entryPoint() -> (node: Int32, level: Int)? { entry }

    public func visit(_ node: Int32, query: UnsafePointer<Float>) -> (distance: Float, live: Bool) {
        let d = vectors.withUnsafeBufferPointer { distance(query, $0.baseAddress! + Int(node) * dimensions, dimensions) }
        return (d, deleted.isEmpty || !deleted.contains(node))
    }

    public func neighbors(of node: Int32, level: Int) -> [Int32] {
        let lists = links[Int(node)]
        return level < lists.count ? lists[level] : []
    }

    public func checkInterrupts() {}

    public func makeVisitedSet() -> DenseVisitedSet { DenseVisitedSet(capacity: links.count) }

    public func withVector<R>(of node: Int32, _ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try vectors.withUnsafeBufferPointer { try body($0.baseAddress! + Int(node) * dimensions) }
    }

    public func vector(of node: Int32) -> [Float] {
        let start = Int(node) * dimensions
        return Array(vectors[start..<start + dimensions])
    }

    public func setNeighbors(of node: Int32, level: Int, to neighbors: [Int32]) {
        links[Int(node)][level] = neighbors
    }

    public func setEntryPoint(_ node: Int32, level: Int) {
        entry = (node, level)
    }
}
