/// Read access to a stored HNSW graph. Implemented in memory (`MemoryGraph`)
/// and over PostgreSQL pages (the extension's page storage).
///
/// Every method may throw: page storage reports PostgreSQL errors (I/O,
/// cancellation) as Swift errors, and the graph code unwinds normally.
public protocol GraphReader {
    associatedtype Node: Hashable & Sendable
    /// The set a search records visited nodes in.
    associatedtype Visited: VisitedSet = HashedVisitedSet<Node> where Visited.Node == Node

    /// An empty visited set for one search.
    func makeVisitedSet() -> Visited

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

    /// The search loop's hot path: adds each of `node`'s neighbours on
    /// `level` to `visited` and calls `body` with those that were not there
    /// yet. Page storage filters before it prefetches the new neighbours'
    /// tuples, so no prefetch goes to pages of nodes already seen.
    func forEachUnvisitedNeighbor(
        of node: Node, level: Int, visited: inout Visited, _ body: (Node) throws -> Void) throws

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

    /// Calls `body` with `node`'s vector (no copy where the storage allows).
    func withVector<R>(of node: Node, _ body: (UnsafePointer<Float>) throws -> R) throws -> R

    /// Replaces `node`'s neighbour list on `level`. A layer-0 link to a
    /// target that stays in the list stays pinned.
    func setNeighbors(of node: Node, level: Int, to neighbors: [Node]) throws

    /// Read-modify-write of one neighbour list, atomic with respect to other
    /// writers: `update` receives the current list and returns the new one,
    /// or nil to leave it. `update` may read vectors and distances, but must
    /// not change other lists.
    func updateNeighbors(of node: Node, level: Int, _ update: ([Node]) throws -> [Node]?) throws

    /// Makes `node` (of `level`) the entry point.
    func setEntryPoint(_ node: Node, level: Int) throws

    /// The level `node` was inserted with.
    func level(of node: Node) throws -> Int

    /// Whether a full neighbour list that re-selects to take a back-link
    /// refills to capacity (dropping one link) or keeps only the diverse
    /// links (dropping several, which leaves room for the next back-links;
    /// see `selectNeighbors`). Dropping several can cut a node's last
    /// incoming link, so only storage that runs `reconnectUnreachable`
    /// after linking (the in-memory build) re-selects sparsely; the page
    /// storage, which inserts one row at a time, refills. Default true.
    var refillsOnReselection: Bool { get }

    /// The targets of `node`'s pinned layer-0 links. A pinned link is
    /// never dropped: every node but the entry point has one from a node
    /// pinned links reach, so the entry point reaches every node
    /// (docs/INDEX.md, "Every row reachable").
    func pinnedNeighbors(of node: Node) throws -> [Node]

    /// Pins `node`'s layer-0 link to `target`; false if `node`'s list does
    /// not hold `target`.
    func pin(_ target: Node, in node: Node) throws -> Bool

    /// Whether inserting keeps pinned links (`pinnedNeighbors`): pruning
    /// keeps them, a new node gets one, a new entry point pins the old one.
    /// Storage that inserts one row at a time (the pages) does; the
    /// in-memory build does not while it links on several threads, and
    /// reconnects and pins a spanning tree at the end. Default true.
    var keepsIncomingLinks: Bool { get }
}

/// The nodes one search has already looked at.
public protocol VisitedSet {
    associatedtype Node
    /// Adds `node`; false if it was there already.
    mutating func insert(_ node: Node) -> Bool
    /// How many nodes are in the set.
    var count: Int { get }
    /// Whether `node` is in the set.
    func contains(_ node: Node) -> Bool
}

/// A visited set for any node type.
public struct HashedVisitedSet<Node: Hashable>: VisitedSet {
    @usableFromInline var nodes: Set<Node> = []
    public init() {}
    @inlinable public mutating func insert(_ node: Node) -> Bool { nodes.insert(node).inserted }
    public var count: Int { nodes.count }
    public func contains(_ node: Node) -> Bool { nodes.contains(node) }
}

extension GraphWriter {
    public var refillsOnReselection: Bool { true }
    public var keepsIncomingLinks: Bool { true }

    /// Storage whose writers are serialized outside (the page storage holds
    /// the index's write lock) needs no more than read, then write.
    public func updateNeighbors(of node: Node, level: Int, _ update: ([Node]) throws -> [Node]?) throws {
        if let changed = try update(try neighbors(of: node, level: level)) {
            try setNeighbors(of: node, level: level, to: changed)
        }
    }

    public func withVector<R>(of node: Node, _ body: (UnsafePointer<Float>) throws -> R) throws -> R {
        let copy = try vector(of: node)
        return try copy.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
}

extension GraphReader {
    public func forEachUnvisitedNeighbor(
        of node: Node, level: Int, visited: inout Visited, _ body: (Node) throws -> Void
    ) throws {
        for neighbor in try neighbors(of: node, level: level) where visited.insert(neighbor) { try body(neighbor) }
    }
}

extension GraphReader where Visited == HashedVisitedSet<Node> {
    public func makeVisitedSet() -> HashedVisitedSet<Node> { HashedVisitedSet() }
}

/// A bitmap over dense integer nodes 0..<capacity: no hashing.
public struct DenseVisitedSet: VisitedSet {
    @usableFromInline var words: [UInt64]
    @usableFromInline var storedCount = 0
    public var count: Int { storedCount }
    public init(capacity: Int) { words = Array(repeating: 0, count: (capacity + 63) / 64) }
    @inlinable public mutating func insert(_ node: Int32) -> Bool {
        let index = Int(node)
        let bit = UInt64(1) << UInt64(index & 63)
        if words[index >> 6] & bit != 0 { return false }
        words[index >> 6] |= bit
        storedCount += 1
        return true
    }
    public func contains(_ node: Int32) -> Bool {
        words[Int(node) >> 6] & (UInt64(1) << UInt64(Int(node) & 63)) != 0
    }
}

/// An open-addressing hash set of 64-bit node IDs (linear probing,
/// multiplicative hashing): several times cheaper per insert than
/// `Set<UInt64>` with its seeded SipHash, and a search inserts every node it
/// looks at. 0 is the empty marker, so it cannot hold node 0 (page storage
/// never uses 0 as a node: block 0 is the metapage).
public struct NodeIDSet: VisitedSet {
    @usableFromInline var slots: [UInt64]
    @usableFromInline var mask: Int
    @usableFromInline var stored = 0

    public init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: 0, count: size)
        mask = size - 1
    }

    public var count: Int { stored }

    @inlinable @inline(__always)
    static func hash(_ node: UInt64) -> Int {
        Int(truncatingIfNeeded: (node &* 0x9E37_79B9_7F4A_7C15) >> 32)
    }

    /// Node 0 marks an empty slot, so it cannot be stored: inserting it
    /// answers false ("seen"), and a search never follows it. (0 is never
    /// a node of the page storage; the shim rejects a link to it as
    /// damage before Swift sees it.)
    @inlinable
    public mutating func insert(_ node: UInt64) -> Bool {
        if node == 0 { return false }
        if (stored + 1) * 2 > slots.count { grow() }
        var i = Self.hash(node) & mask
        while true {
            let slot = slots[i]
            if slot == node { return false }
            if slot == 0 {
                slots[i] = node
                stored += 1
                return true
            }
            i = (i + 1) & mask
        }
    }

    public func contains(_ node: UInt64) -> Bool {
        var i = Self.hash(node) & mask
        while true {
            let slot = slots[i]
            if slot == node { return true }
            if slot == 0 { return false }
            i = (i + 1) & mask
        }
    }

    @usableFromInline
    mutating func grow() {
        let old = slots
        slots = Array(repeating: 0, count: old.count * 2)
        mask = slots.count - 1
        stored = 0
        for node in old where node != 0 { _ = insert(node) }
    }
}
