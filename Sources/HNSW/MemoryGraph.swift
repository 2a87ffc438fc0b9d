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

    public private(set) var count = 0
    private var capacity = 0
    private var vectorStorage: UnsafeMutablePointer<Float>
    private var layer0: UnsafeMutablePointer<Int32>
    private var layer0Counts: UnsafeMutablePointer<UInt16>
    private var levels: [UInt8] = []
    /// Where node's upper-layer slots start in `upperSlots` (its layer l
    /// list at (start + l - 1) * m); -1 for nodes of level 0.
    private var upperStart: [Int] = []
    private var upperSlots: UnsafeMutablePointer<Int32>
    private var upperCounts: UnsafeMutablePointer<UInt16>
    private var upperUsed = 0
    private var upperCapacity = 0

    public init(dimensions: Int, metric: Metric, parameters: HNSWParameters) {
        self.dimensions = dimensions
        self.metric = metric
        self.parameters = parameters
        self.distance = metric.function
        self.slots = parameters.maxNeighbors(level: 0)
        self.prefetchLines = Int32(min((dimensions * 4 + 63) / 64, 8))
        vectorStorage = .allocate(capacity: 1)
        layer0 = .allocate(capacity: 1)
        layer0Counts = .allocate(capacity: 1)
        upperSlots = .allocate(capacity: 1)
        upperCounts = .allocate(capacity: 1)
        entryLock = .allocate(capacity: 1)
        pthread_mutex_init(entryLock, nil)
        locks = .allocate(capacity: Self.lockStripes)
        for i in 0..<Self.lockStripes { pthread_mutex_init(locks + i, nil) }
    }

    deinit {
        vectorStorage.deallocate()
        layer0.deallocate()
        layer0Counts.deallocate()
        upperSlots.deallocate()
        upperCounts.deallocate()
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

    private func grow(to minimum: Int) {
        // The first allocation is 1,024 nodes, or 1 MB of vectors when
        // those are large (1,024 vectors of 65,535 floats would be 256 MB,
        // and the build counts capacity against maintenance_work_mem).
        let initial = max(1, min(1024, (1 << 20) / (dimensions * 4)))
        let newCapacity = max(minimum, capacity * 2, initial)
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
        if level > 0 {
            if upperUsed + level > upperCapacity {
                let newCapacity = max(upperUsed + level, upperCapacity * 2, 256)
                let slots = UnsafeMutablePointer<Int32>.allocate(capacity: newCapacity * parameters.m)
                slots.moveInitialize(from: upperSlots, count: upperUsed * parameters.m)
                upperSlots.deallocate()
                upperSlots = slots
                let counts = UnsafeMutablePointer<UInt16>.allocate(capacity: newCapacity)
                counts.moveInitialize(from: upperCounts, count: upperUsed)
                upperCounts.deallocate()
                upperCounts = counts
                upperCapacity = newCapacity
            }
            upperStart.append(upperUsed)
            (upperCounts + upperUsed).initialize(repeating: 0, count: level)
            upperUsed += level
        } else {
            upperStart.append(-1)
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
        let d = distance(query, vectorStorage + Int(node) * dimensions, dimensions)
        return (d, deleted.isEmpty || !deleted.contains(node))
    }

    /// The slots and count of node's list on `level`, or nil above its level.
    @inline(__always)
    private func list(_ node: Int32, _ level: Int) -> (slots: UnsafeMutablePointer<Int32>, count: UnsafeMutablePointer<UInt16>)? {
        if level == 0 { return (layer0 + Int(node) * slots, layer0Counts + Int(node)) }
        guard level <= Int(levels[Int(node)]) else { return nil }
        let index = upperStart[Int(node)] + level - 1
        return (upperSlots + index * parameters.m, upperCounts + index)
    }

    public func neighbors(of node: Int32, level: Int) -> [Int32] {
        guard let (slots, count) = list(node, level) else { return [] }
        return withLock(node) { Array(UnsafeBufferPointer(start: slots, count: Int(count.pointee))) }
    }

    @inline(__always)
    public func forEachNeighbor(of node: Int32, level: Int, _ body: (Int32) throws -> Void) rethrows {
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
            // time at 384 dimensions, where the vectors outgrow the caches).
            for i in 0..<n { vectors_prefetch_lines(vectorStorage + Int(copy[i]) * dimensions, prefetchLines) }
            for i in 0..<n { try body(copy[i]) }
        }
    }

    public func checkInterrupts() {}

    /// The build re-selects sparsely and ends with `reconnectUnreachable`.
    public var refillsOnReselection: Bool { false }

    public func makeVisitedSet() -> DenseVisitedSet { DenseVisitedSet(capacity: count) }

    public func withVector<R>(of node: Int32, _ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try body(vectorStorage + Int(node) * dimensions)
    }

    public func vector(of node: Int32) -> [Float] {
        Array(UnsafeBufferPointer(start: vectorStorage + Int(node) * dimensions, count: dimensions))
    }

    public func setNeighbors(of node: Int32, level: Int, to neighbors: [Int32]) {
        guard let (slots, count) = list(node, level) else { preconditionFailure("level above the node's") }
        precondition(neighbors.count <= parameters.maxNeighbors(level: level))
        withLock(node) {
            for (i, n) in neighbors.enumerated() { slots[i] = n }
            count.pointee = UInt16(neighbors.count)
        }
    }

    public func updateNeighbors(of node: Int32, level: Int, _ update: ([Int32]) throws -> [Int32]?) rethrows {
        guard let (slots, count) = list(node, level) else { return }
        try withLock(node) {
            let current = Array(UnsafeBufferPointer(start: slots, count: Int(count.pointee)))
            guard let changed = try update(current) else { return }
            precondition(changed.count <= parameters.maxNeighbors(level: level))
            for (i, n) in changed.enumerated() { slots[i] = n }
            count.pointee = UInt16(changed.count)
        }
    }

    public func setEntryPoint(_ node: Int32, level: Int) {
        pthread_mutex_lock(entryLock)
        defer { pthread_mutex_unlock(entryLock) }
        // Concurrent inserts: only ever raise the entry level.
        if entry == nil || level > entry!.level || entry!.node == node { entry = (node, level) }
    }
}
