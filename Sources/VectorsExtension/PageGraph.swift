// The HNSW graph as stored in the index's PostgreSQL pages, seen through the
// shim's page functions (CShims/hnsw_pages.c). Every call that fails carries
// a saved PostgreSQL error in the handle; PageGraph turns the status into a
// thrown Swift error, the graph code unwinds, and the C caller re-throws the
// PostgreSQL error once Swift has returned.
import CVectorsShim
import HNSW

/// A failed shim call. The details stay in the C handle (a PostgreSQL
/// ErrorData); Swift only needs to unwind.
struct ShimFailure: Error {
    var status: VectorsStatus
}

@inline(__always)
func check(_ status: VectorsStatus) throws(ShimFailure) {
    if status != VECTORS_OK { throw ShimFailure(status: status) }
}

final class PageGraph: GraphWriter {
    typealias Node = UInt64

    let handle: OpaquePointer
    let dimensions: Int
    let metric: Metric
    let maxNeighbors: Int
    /// Heap TIDs seen by `visit`, so search results need no second page read
    /// (and report the TID read together with the distance).
    private(set) var heapTIDs: [UInt64: UInt64] = [:]
    var recordHeapTIDs = false

    /// Bytes `heapTIDs` takes: a dictionary of capacity c has 4c/3 buckets
    /// of 16 bytes (key, value) and a bit of metadata each.
    var heapTIDMemory: Int { heapTIDs.capacity * 22 }

    init(handle: OpaquePointer, info: VectorsIndexInfo) throws(GraphFailure) {
        self.handle = handle
        self.dimensions = Int(info.dimensions)
        self.metric = try info.swiftMetric()
        self.maxNeighbors = 2 * Int(info.m)
    }

    func entryPoint() throws -> (node: UInt64, level: Int)? {
        var node: VectorsNode = 0
        var level: Int32 = 0
        try check(vectors_page_entry(handle, &node, &level))
        return node == 0 ? nil : (node, Int(level))
    }

    func visit(_ node: UInt64, query: UnsafePointer<Float>) throws -> (distance: Float, live: Bool) {
        var distance: Float = 0
        var live = false
        var heapTID: UInt64 = 0
        try check(vectors_page_visit(handle, node, query, &distance, &live, &heapTID))
        if recordHeapTIDs && live { heapTIDs[node] = heapTID }
        return (distance, live)
    }

    /// The pinned targets of the last layer-0 list read by `neighbors`:
    /// pruning a list reads it and then asks for its pins, and the pins come
    /// with the list (an insert read every full list twice: 10-30% fewer
    /// inserts a second). Writers are serialized by the index's write lock,
    /// and every write here forgets it.
    private var lastPins: (node: UInt64, pinned: [UInt64])?

    func neighbors(of node: UInt64, level: Int) throws -> [UInt64] {
        guard level == 0 else {
            return try [UInt64](unsafeUninitializedCapacity: maxNeighbors) { buffer, initialized in
                var count: Int32 = 0
                let status = vectors_page_neighbors(handle, node, Int32(level), buffer.baseAddress!, nil, Int32(maxNeighbors), &count)
                initialized = status == VECTORS_OK ? Int(count) : 0
                try check(status)
            }
        }
        let (list, pinned) = try listWithPins(of: node)
        lastPins = (node, pinned)
        return list
    }

    private func listWithPins(of node: UInt64) throws -> (list: [UInt64], pinned: [UInt64]) {
        try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: maxNeighbors) { nodes in
            try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxNeighbors) { flags in
                var count: Int32 = 0
                try check(vectors_page_neighbors(
                    handle, node, 0, nodes.baseAddress!, flags.baseAddress!, Int32(maxNeighbors), &count))
                let list = Array(nodes.prefix(Int(count)))
                return (list, (0..<Int(count)).filter { flags[$0] != 0 }.map { nodes[$0] })
            }
        }
    }

    func pinnedNeighbors(of node: UInt64) throws -> [UInt64] {
        if let last = lastPins, last.node == node { return last.pinned }
        return try listWithPins(of: node).pinned
    }

    func pin(_ target: UInt64, in node: UInt64) throws -> Bool {
        lastPins = nil
        var pinned = false
        try check(vectors_page_pin(handle, node, target, &pinned))
        return pinned
    }

    /// The search loop's hot path: the list is copied from the page into
    /// stack memory (the page is unlocked before `body` reads other pages),
    /// visited nodes are dropped, and the rest prefetched.
    func forEachUnvisitedNeighbor(
        of node: UInt64, level: Int, visited: inout NodeIDSet, _ body: (UInt64) throws -> Void
    ) throws {
        try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: maxNeighbors) { buffer in
            var listed: Int32 = 0
            try check(vectors_page_neighbors(handle, node, Int32(level), buffer.baseAddress!, nil, Int32(maxNeighbors), &listed))
            var n = 0
            for i in 0..<Int(listed) where visited.insert(buffer[i]) {
                buffer[n] = buffer[i]
                n += 1
            }
            vectors_page_prefetch(handle, buffer.baseAddress!, Int32(n))
            for i in 0..<n { try body(buffer[i]) }
        }
    }

    func makeVisitedSet() -> NodeIDSet { NodeIDSet() }

    func checkInterrupts() throws {
        try check(vectors_page_check_interrupts(handle))
    }

    func vector(of node: UInt64) throws -> [Float] {
        try [Float](unsafeUninitializedCapacity: dimensions) { buffer, initialized in
            let status = vectors_page_vector(handle, node, buffer.baseAddress!)
            initialized = dimensions
            try check(status)
        }
    }

    func setNeighbors(of node: UInt64, level: Int, to neighbors: [UInt64]) throws {
        lastPins = nil
        try neighbors.withUnsafeBufferPointer {
            try check(vectors_page_set_neighbors(handle, node, Int32(level), $0.baseAddress, Int32($0.count)))
        }
    }

    func setEntryPoint(_ node: UInt64, level: Int) throws {
        try check(vectors_page_set_entry(handle, node, Int32(level)))
    }

    func level(of node: UInt64) throws -> Int {
        var level: Int32 = 0
        try check(vectors_page_level(handle, node, &level))
        return Int(level)
    }
}
