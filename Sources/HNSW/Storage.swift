/// Read access to a stored HNSW graph. Implemented in memory (`MemoryGraph`)
/// and over PostgreSQL pages (the extension's page storage).
///
/// Every method may throw: page storage reports PostgreSQL errors (I/O,
/// cancellation) as Swift errors, and the graph code unwinds normally.
public protocol GraphReader {
    associatedtype Node: Hashable & Sendable

    /// Dimension of every stored vector.
    var dimensions: Int { get }

    /// The metric vectors are stored and compared under.
    var metric: Metric { get }

    /// The top-level entry node and its level; nil for an empty graph.
    func entryPoint() throws -> (node: Node, level: Int)?

    /// Distance from a prepared query to `node`'s vector, and whether the
    /// node is live (a deleted node is still traversed, never returned).
    func visit(_ node: Node, query: UnsafePointer<Float>) throws -> (distance: Float, live: Bool)

    /// `node`'s neighbours on `level` (empty above the node's own level).
    func neighbors(of node: Node, level: Int) throws -> [Node]

    /// Called between units of work in long loops: page storage checks for
    /// query cancel and statement timeout here.
    func checkInterrupts() throws
}

/// Write access, used by inserts and by vacuum's repair. Callers serialize
/// writers (the page storage holds a lock for the whole insert), so a
/// read-modify-write of a neighbour list cannot lose a concurrent update.
public protocol GraphWriter: GraphReader {
    /// A copy of `node`'s (prepared) vector.
    func vector(of node: Node) throws -> [Float]

    /// Replaces `node`'s neighbour list on `level`.
    func setNeighbors(of node: Node, level: Int, to neighbors: [Node]) throws

    /// Makes `node` (of `level`) the entry point.
    func setEntryPoint(_ node: Node, level: Int) throws

    /// The level `node` was inserted with.
    func level(of node: Node) throws -> Int
}
