#if canImport(Glibc)
import Glibc
#endif
import CVectorsShim
import Synchronization

/// An HNSW graph held in memory: used to build an index before it is
/// written to pages, and by the tests and benchmarks. Nodes are dense
/// integers in insertion order.
///
/// Storage is flat and manually managed (vectors back to back; neighbour
/// slots, 2·m per node on layer 0 and m per upper layer, back to back), so
/// the search loop touches no reference-counted object per step.
///
/// Appending is single-threaded; linking (`linkAll`) may run on several
/// threads. Then vectors and levels are read-only, every neighbour list is
/// read and written under one of `lockStripes` mutexes (chosen by node), and
/// the entry point under its own. A thread holds at most one lock at a time,
/// so there is no lock order to get wrong.
///
/// Every per-node array is a `BuildArray`: when memory runs out, `append`
/// throws `GraphFailure.outOfMemory` and the graph stays as it was, so a
/// PostgreSQL backend reports an error instead of stopping.
public final class MemoryGraph: GraphWriter, @unchecked Sendable {
    public typealias Node = Int32

    public let dimensions: Int
    public let metric: Metric
    public let parameters: HNSWParameters
    /// Nodes marked deleted (traversed, never returned).
    public var deleted: Set<Int32> = []
    private var entry: (node: Int32, level: Int)?
    private let entryLock: UnsafeMutablePointer<pthread_mutex_t>
    private static let lockStripes = 1024
    private let locks: UnsafeMutablePointer<pthread_mutex_t>
    private let distance: DistanceFunction
    private let slots: Int
    /// Leading cache lines of a neighbour's vector to prefetch (at most 8:
    /// the hardware prefetcher streams the rest of a long vector).
    private let prefetchLines: Int32
    /// Cache lines after those, up to 16 more, requested two neighbours
    /// ahead of the distance that reads them.
    private let tailLines: Int32

    public private(set) var count = 0
    private var capacity = 0
    private let mapper: PageMapper
    private var vectorStorage = BuildArray<Float>()
    private var layer0 = BuildArray<Int32>()
    private var layer0Counts = BuildArray<UInt16>()
    private var levels = BuildArray<UInt8>()
    /// Where node's upper-layer slots start in `upperSlots` (its layer l
    /// list at (start + l - 1) * m); -1 for nodes of level 0.
    private var upperStart = BuildArray<Int>()
    private var upperSlots = BuildArray<Int32>()
    private var upperCounts = BuildArray<UInt16>()
    private var upperUsed = 0
    private var upperCapacity = 0

    /// - Parameter mapper: where the large arrays get memory (tests pass
    ///   one that refuses, to reach the out-of-memory paths).
    public init(dimensions: Int, metric: Metric, parameters: HNSWParameters, mapper: PageMapper = .system) {
        self.mapper = mapper
        self.dimensions = dimensions
        self.metric = metric
        self.parameters = parameters
        self.distance = metric.function
        self.slots = parameters.maxNeighbors(level: 0)
        self.prefetchLines = Int32(min((dimensions * 4 + 63) / 64, 8))
        self.tailLines = Int32(min(max(0, (dimensions * 4 + 63) / 64 - 8), 16))
        entryLock = .allocate(capacity: 1)
        pthread_mutex_init(entryLock, nil)
        locks = .allocate(capacity: Self.lockStripes)
        for i in 0..<Self.lockStripes { pthread_mutex_init(locks + i, nil) }
    }

    deinit {
        vectorStorage.release()
        layer0.release()
        layer0Counts.release()
        levels.release()
        upperStart.release()
        upperSlots.release()
        upperCounts.release()
        pthread_mutex_destroy(entryLock)
        entryLock.deallocate()
        for i in 0..<Self.lockStripes { pthread_mutex_destroy(locks + i) }
        locks.deallocate()
    }

    @inline(__always)
    private func withLock<R>(_ node: Int32, _ body: () throws -> R) rethrows -> R {
        let lock = locks + Int(node) % Self.lockStripes
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return try body()
    }

    /// Room for at least `minimum` nodes; throws (and `capacity` stays) when
    /// an array cannot grow: the arrays grown already just hold more.
    private func grow(to minimum: Int) throws(GraphFailure) {
        // The first allocation is 1,024 nodes, or 1 MB of vectors when
        // those are large (1,024 vectors of 65,535 floats would be 256 MB,
        // and the build counts capacity against maintenance_work_mem).
        let initial = max(1, min(1024, (1 << 20) / (dimensions * 4)))
        let newCapacity = max(minimum, capacity * 2, initial)
        func scaled(_ perNode: Int) throws(GraphFailure) -> Int {
            let (n, overflow) = newCapacity.multipliedReportingOverflow(by: perNode)
            if overflow { throw .outOfMemory(bytes: .max) }
            return n
        }
        try vectorStorage.grow(to: scaled(dimensions), used: count * dimensions, mapper: mapper)
        try layer0.grow(to: scaled(slots), used: count * slots, mapper: mapper)
        try layer0Counts.grow(to: newCapacity, used: count, mapper: mapper)
        try levels.grow(to: newCapacity, used: count, mapper: mapper)
        try upperStart.grow(to: newCapacity, used: count, mapper: mapper)
        capacity = newCapacity
    }

    /// Stores a prepared vector with a level and links it into the graph.
    @discardableResult
    public func add(_ vector: [Float], level: Int) throws -> Int32 {
        let node = try append(vector, level: level)
        try link(node)
        return node
    }

    /// Stores a prepared vector without linking it (see `link`). Throws
    /// `GraphFailure.outOfMemory` when the arrays cannot grow (the graph is
    /// unchanged then), `invalidArgument` for a vector of the wrong length
    /// or a level outside 0...HNSWParameters.maxLevel.
    @discardableResult
    public func append<C: Collection>(_ vector: C, level: Int) throws(GraphFailure) -> Int32 where C.Element == Float {
        guard vector.count == dimensions else {
            throw .invalidArgument("vector of \(vector.count) dimensions appended to a graph of \(dimensions)")
        }
        guard (0...HNSWParameters.maxLevel).contains(level) else {
            throw .invalidArgument("level \(level) outside 0...\(HNSWParameters.maxLevel)")
        }
        // Nodes are Int32: the last one a graph can number.
        guard count < Int(Int32.max) else { throw .outOfMemory(bytes: .max) }
        if count == capacity { try grow(to: count + 1) }
        if level > 0 && upperUsed + level > upperCapacity {
            let newCapacity = max(upperUsed + level, upperCapacity * 2, 256)
            let (slotCount, overflow) = newCapacity.multipliedReportingOverflow(by: parameters.m)
            if overflow { throw .outOfMemory(bytes: .max) }
            try upperSlots.grow(to: slotCount, used: upperUsed * parameters.m, mapper: mapper)
            try upperCounts.grow(to: newCapacity, used: upperUsed, mapper: mapper)
            upperCapacity = newCapacity
        }
        let node = Int32(count)
        _ = UnsafeMutableBufferPointer(start: vectorStorage.base + count * dimensions, count: dimensions)
            .initialize(from: vector)
        layer0Counts[count] = 0
        levels[count] = UInt8(level)
        if level > 0 {
            upperStart[count] = upperUsed
            (upperCounts.base + upperUsed).initialize(repeating: 0, count: level)
            upperUsed += level
        } else {
            upperStart[count] = -1
        }
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
        return capacity * perNode + upperCapacity * (parameters.m * 4 + 2)
    }

    public func level(of node: Int32) -> Int { Int(levels[Int(node)]) }

    public func entryPoint() -> (node: Int32, level: Int)? {
        pthread_mutex_lock(entryLock)
        defer { pthread_mutex_unlock(entryLock) }
        return entry
    }

    @inline(__always)
    public func visit(_ node: Int32, query: UnsafePointer<Float>) -> (distance: Float, live: Bool) {
        let d = distance(query, vectorStorage.base + Int(node) * dimensions, dimensions)
        return (d, deleted.isEmpty || !deleted.contains(node))
    }

    /// The slots and count of node's list on `level`, or nil above its level.
    @inline(__always)
    private func list(_ node: Int32, _ level: Int) -> (slots: UnsafeMutablePointer<Int32>, count: UnsafeMutablePointer<UInt16>)? {
        if level == 0 { return (layer0.base + Int(node) * slots, layer0Counts.base + Int(node)) }
        guard level <= Int(levels[Int(node)]) else { return nil }
        let index = upperStart[Int(node)] + level - 1
        return (upperSlots.base + index * parameters.m, upperCounts.base + index)
    }

    public func neighbors(of node: Int32, level: Int) -> [Int32] {
        guard let (slots, count) = list(node, level) else { return [] }
        return withLock(node) { Array(UnsafeBufferPointer(start: slots, count: Int(count.pointee))) }
    }

    @inline(__always)
    public func forEachUnvisitedNeighbor(
        of node: Int32, level: Int, visited: inout DenseVisitedSet, _ body: (Int32) throws -> Void
    ) rethrows {
        guard let (slots, count) = list(node, level) else { return }
        // Copy out under the lock, visit after releasing it.
        try withUnsafeTemporaryAllocation(of: Int32.self, capacity: self.slots) { copy in
            let n = withLock(node) { () -> Int in
                let n = Int(count.pointee)
                copy.baseAddress!.update(from: slots, count: n)
                return n
            }
            // Start the neighbours' vectors loading before the first
            // distance, so their cache misses overlap (worth ~4% of build
            // time at 384 dimensions, where the vectors outgrow the caches):
            // the leading lines of all of them at once, the rest of each two
            // distances ahead (another ~9%: 110k MiniLM vectors linked in
            // 11.3 s instead of 12.4 s). Prefetching every line at once, or
            // filtering visited nodes out first, was slower (the larger
            // loop stopped the search from inlining its heap operations).
            for i in 0..<n { vectors_prefetch_lines(vectorStorage.base + Int(copy[i]) * dimensions, prefetchLines) }
            for i in 0..<n where visited.insert(copy[i]) {
                if i + 2 < n { vectors_prefetch_lines(vectorStorage.base + Int(copy[i + 2]) * dimensions + Int(prefetchLines) * 16, tailLines) }
                try body(copy[i])
            }
        }
    }

    public func checkInterrupts() {}

    /// The build re-selects sparsely and ends with `reconnectUnreachable`.
    /// (Tests set it to insert as the page storage does.)
    public var refillsOnReselection = false

    /// Off while `linkAll` links on several threads; `reconnectUnreachable`
    /// turns it on. Only for single-threaded use when on: `updateNeighbors`
    /// then runs its closure without the list's lock, because keeping pinned
    /// links reads the list's pins (`pinnedNeighbors` takes that same lock).
    public var keepsIncomingLinks = false

    /// For each node, the node whose pinned layer-0 link reaches it, or -1
    /// (one pinned link in is all the in-memory graph keeps: it has no
    /// VACUUM). Empty until the first pin; single-threaded use only.
    private var pinnedFrom: [Int32] = []

    /// Whether `node`'s layer-0 link to `target` is pinned.
    public func isPinned(_ target: Int32, in node: Int32) -> Bool {
        Int(target) < pinnedFrom.count && pinnedFrom[Int(target)] == node
    }

    public func pinnedNeighbors(of node: Int32) -> [Int32] {
        pinnedFrom.isEmpty ? [] : neighbors(of: node, level: 0).filter { isPinned($0, in: node) }
    }

    public func pin(_ target: Int32, in node: Int32) -> Bool {
        guard neighbors(of: node, level: 0).contains(target) else { return false }
        if pinnedFrom.count < count { pinnedFrom += repeatElement(-1, count: count - pinnedFrom.count) }
        pinnedFrom[Int(target)] = node
        return true
    }

    public func makeVisitedSet() -> DenseVisitedSet { DenseVisitedSet(capacity: count) }

    public func withVector<R>(of node: Int32, _ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try body(vectorStorage.base + Int(node) * dimensions)
    }

    public func vector(of node: Int32) -> [Float] {
        Array(UnsafeBufferPointer(start: vectorStorage.base + Int(node) * dimensions, count: dimensions))
    }

    public func setNeighbors(of node: Int32, level: Int, to neighbors: [Int32]) throws(GraphFailure) {
        guard let (slots, count) = list(node, level) else {
            throw .invalidArgument("neighbours of node \(node) set on level \(level), above its level")
        }
        try checkLength(neighbors, level: level)
        withLock(node) {
            for (i, n) in neighbors.enumerated() { slots[i] = n }
            count.pointee = UInt16(neighbors.count)
        }
    }

    public func updateNeighbors(of node: Int32, level: Int, _ update: ([Int32]) throws -> [Int32]?) throws {
        guard let (slots, count) = list(node, level) else { return }
        if keepsIncomingLinks {
            guard let changed = try update(neighbors(of: node, level: level)) else { return }
            try setNeighbors(of: node, level: level, to: changed)
            return
        }
        try withLock(node) {
            let current = Array(UnsafeBufferPointer(start: slots, count: Int(count.pointee)))
            guard let changed = try update(current) else { return }
            try checkLength(changed, level: level)
            for (i, n) in changed.enumerated() { slots[i] = n }
            count.pointee = UInt16(changed.count)
        }
    }

    /// A list longer than its level's slots would overwrite the next node's.
    private func checkLength(_ list: [Int32], level: Int) throws(GraphFailure) {
        guard list.count <= parameters.maxNeighbors(level: level) else {
            throw .invalidArgument("\(list.count) neighbours on level \(level), at most \(parameters.maxNeighbors(level: level)) fit")
        }
    }

    public func setEntryPoint(_ node: Int32, level: Int) {
        pthread_mutex_lock(entryLock)
        defer { pthread_mutex_unlock(entryLock) }
        // Concurrent inserts: only ever raise the entry level.
        if let current = entry, level <= current.level, current.node != node { return }
        entry = (node, level)
    }
}
