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
    /// Cache lines after those, up to 16 more, requested two neighbours
    /// ahead of the distance that reads them.
    private let tailLines: Int32

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
        self.tailLines = Int32(min(max(0, (dimensions * 4 + 63) / 64 - 8), 16))
        vectorStorage = HugePages.allocate(Float.self, count: 0)
        layer0 = HugePages.allocate(Int32.self, count: 0)
        layer0Counts = .allocate(capacity: 1)
        upperSlots = .allocate(capacity: 1)
        upperCounts = .allocate(capacity: 1)
        entryLock = .allocate(capacity: 1)
        pthread_mutex_init(entryLock, nil)
        locks = .allocate(capacity: Self.lockStripes)
        for i in 0..<Self.lockStripes { pthread_mutex_init(locks + i, nil) }
    }

    deinit {
        HugePages.deallocate(vectorStorage, count: capacity * dimensions)
        HugePages.deallocate(layer0, count: capacity * slots)
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
        vectorStorage = HugePages.grow(
            vectorStorage, from: capacity * dimensions, to: newCapacity * dimensions, used: count * dimensions)
        layer0 = HugePages.grow(layer0, from: capacity * slots, to: newCapacity * slots, used: count * slots)
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
            for i in 0..<n { vectors_prefetch_lines(vectorStorage + Int(copy[i]) * dimensions, prefetchLines) }
            for i in 0..<n where visited.insert(copy[i]) {
                if i + 2 < n { vectors_prefetch_lines(vectorStorage + Int(copy[i + 2]) * dimensions + Int(prefetchLines) * 16, tailLines) }
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
    /// then runs its closure without the list's lock, because keeping a
    /// link reads other nodes' lists, and a thread may hold one lock only.
    public var keepsIncomingLinks = false

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
        if keepsIncomingLinks {
            guard let changed = try update(neighbors(of: node, level: level)) else { return }
            setNeighbors(of: node, level: level, to: changed)
            return
        }
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

/// Large arrays that a search reads at random (vectors, layer-0 lists):
/// mapped directly and marked for transparent huge pages, so a read costs a
/// cache miss but rarely also a page-table walk (4 KiB pages give a Zen 4
/// core 12 MB of TLB reach; the vectors of 110,000 384-d rows are 170 MB).
/// Linking 110,000 MiniLM vectors took 12.8 s instead of 15.0 s in CREATE
/// INDEX. Without huge pages (a kernel set to `never`) this is plain memory.
enum HugePages {
    /// Below one huge page, plain malloc.
    static let threshold = Int(VECTORS_HUGE_PAGE)

    static func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = count * MemoryLayout<T>.stride
        guard bytes >= threshold else { return .allocate(capacity: max(count, 1)) }
        guard let raw = vectors_huge_map(bytes) else { fatalError("out of memory mapping \(bytes) bytes") }
        return raw.bindMemory(to: T.self, capacity: count)
    }

    /// A larger array holding the first `used` elements of `old`.
    static func grow<T>(_ old: UnsafeMutablePointer<T>, from oldCount: Int, to newCount: Int, used: Int)
        -> UnsafeMutablePointer<T> {
        let oldBytes = oldCount * MemoryLayout<T>.stride
        let newBytes = newCount * MemoryLayout<T>.stride
        if oldBytes >= threshold {
            guard let raw = vectors_huge_remap(old, oldBytes, newBytes) else {
                fatalError("out of memory mapping \(newBytes) bytes")
            }
            return raw.bindMemory(to: T.self, capacity: newCount)
        }
        let fresh = allocate(T.self, count: newCount)
        fresh.moveInitialize(from: old, count: used)
        deallocate(old, count: oldCount)
        return fresh
    }

    static func deallocate<T>(_ pointer: UnsafeMutablePointer<T>, count: Int) {
        let bytes = count * MemoryLayout<T>.stride
        if bytes >= threshold { munmap(pointer, bytes) } else { pointer.deallocate() }
    }
}
