/// A nearest-neighbour search that produces results one at a time, for as
/// long as the caller keeps asking (the VBASE idea, OSDI'23: relaxed
/// monotonicity).
///
/// Results come in batches. Each batch is an HNSW beam search of breadth
/// `ef` that continues from where the previous ones stopped: it starts
/// from every node seen but not yet expanded, keeps the `ef` nearest live
/// rows not yet returned (including rows found earlier and not returned),
/// and stops, as the ordinary search does, when the nearest unexpanded node
/// is farther than the farthest of those. The batch is returned in exact
/// distance order; batches follow one another in approximately increasing
/// distance. The first batch is exactly the ordinary search (basic mode
/// stops after it). A wider `ef` explores more before committing to a
/// batch, so it buys ordering quality (recall under a filter) with work,
/// the same trade as in the first batch.
///
/// The stream ends when the graph is exhausted (then every reachable live
/// node has been returned exactly once) or when its memory reaches
/// `memoryLimit` (`hitMemoryLimit`). The index scan then returns the rows
/// the stream did not, from one pass over the index (CShims/hnsw_scan.c).
public final class SearchStream<G: GraphReader> {
    public let graph: G
    let query: [Float]
    let ef: Int
    let continues: Bool
    let memoryLimit: Int

    var started = false
    var visited: G.Visited
    /// Seen, not yet expanded, nearest on top.
    var unexpanded = CandidateHeap<G.Node>(nearestFirst: true)
    /// Seen nodes too far for the batch that found them: moved into
    /// `unexpanded` only if another batch is needed (basic mode never pays).
    var unexpandedLater: [Candidate<G.Node>] = []
    /// Expanded, live, perhaps not yet returned (returned ones are skipped
    /// when popped), nearest on top.
    var expandedLive = CandidateHeap<G.Node>(nearestFirst: true)
    /// Deleted nodes seen: traversed, never returned. Few.
    var deleted: Set<G.Node> = []
    var returned: Set<G.Node> = []
    /// The current batch, nearest first, and the next one to return.
    var batch: [Candidate<G.Node>] = []
    var batchNext = 0
    /// True once the stream stopped because of `memoryLimit`.
    public private(set) var hitMemoryLimit = false

    /// Bytes one entry of a set or heap costs, for `memoryLimit`.
    static var bytesPerEntry: Int { MemoryLayout<G.Node>.stride + 16 }

    /// - Parameters:
    ///   - query: prepared (unit length for cosine).
    ///   - ef: breadth of every batch.
    ///   - continues: false for basic mode (the first batch only).
    ///   - memoryLimit: bytes of search state at which the stream stops.
    ///
    /// A query of the wrong length fails the first `next()` with
    /// `GraphFailure.invalidArgument`.
    public init(graph: G, query: [Float], ef: Int, continues: Bool, memoryLimit: Int) {
        self.graph = graph
        self.query = query
        self.ef = max(ef, 1)
        self.continues = continues
        self.memoryLimit = memoryLimit
        self.visited = graph.makeVisitedSet()
    }

    /// Bytes the storage holds for this search beyond the stream's own
    /// state (the page storage's heap TIDs of the nodes seen), counted
    /// against `memoryLimit` too.
    public var storageMemory: () -> Int = { 0 }

    /// Approximate bytes held by the search state.
    public var memoryUsage: Int {
        (visited.count + unexpanded.count + unexpandedLater.count + expandedLive.count + returned.count + deleted.count)
            * Self.bytesPerEntry + storageMemory()
    }

    /// The next result, or nil at the end of the stream.
    public func next() throws -> Candidate<G.Node>? {
        if batchNext == batch.count {
            guard !started || continues else { return nil }
            guard !started || memoryUsage <= memoryLimit else {
                hitMemoryLimit = true
                return nil
            }
            try query.withUnsafeBufferPointer { q in
                if !started {
                    started = true
                    try start(q.baseAddress!)
                }
                try nextBatch(q.baseAddress!)
            }
            guard batchNext < batch.count else { return nil }
        }
        let candidate = batch[batchNext]
        batchNext += 1
        return candidate
    }

    func start(_ q: UnsafePointer<Float>) throws {
        guard query.count == graph.dimensions else {
            throw GraphFailure.invalidArgument("query has \(query.count) dimensions, graph has \(graph.dimensions)")
        }
        guard let (entry, _) = try graph.descend(query: q, toLevel: 0) else { return }
        _ = visited.insert(entry.node)
        if try !graph.visit(entry.node, query: q).live { deleted.insert(entry.node) }
        unexpanded.push(entry)
    }

    /// One beam search of breadth `ef` from the unexpanded nodes; its live,
    /// unreturned results become `batch`.
    func nextBatch(_ q: UnsafePointer<Float>) throws {
        for candidate in unexpandedLater { unexpanded.push(candidate) }
        unexpandedLater.removeAll(keepingCapacity: true)

        // Farthest on top: the ef nearest offers of this batch.
        var results = CandidateHeap<G.Node>(nearestFirst: false)
        func offer(_ candidate: Candidate<G.Node>) {
            if results.count < ef {
                results.push(candidate)
            } else if candidate.distance < results.top!.distance {
                results.pop()
                results.push(candidate)
            }
        }
        // Rows found by earlier batches and not returned compete too.
        var earlier: [Candidate<G.Node>] = []
        while earlier.count < ef, let candidate = expandedLive.pop() {
            if !returned.contains(candidate.node) { earlier.append(candidate) }
        }
        for candidate in earlier {
            offer(candidate)
            expandedLive.push(candidate)
        }

        var expanded = 0
        while let current = unexpanded.top {
            if results.count >= ef, current.distance > results.top!.distance { break }
            unexpanded.pop()
            expanded += 1
            if expanded % 64 == 0 {
                try graph.checkInterrupts()
                if continues && memoryUsage > memoryLimit {
                    hitMemoryLimit = true
                    break
                }
            }
            // A node from an earlier batch is offered now; one found in this
            // batch was offered when found (and may still be in `results`).
            let live = !deleted.contains(current.node)
            if live && !returned.contains(current.node) {
                if continues { expandedLive.push(current) }
                if !results.items.contains(where: { $0.node == current.node }) { offer(current) }
            }
            try graph.forEachUnvisitedNeighbor(of: current.node, level: 0, visited: &visited) { neighbor in
                let (distance, live) = try graph.visit(neighbor, query: q)
                let candidate = Candidate(distance: distance, node: neighbor)
                if !live { deleted.insert(neighbor) }
                if results.count < ef || distance < results.top!.distance {
                    unexpanded.push(candidate)
                    if live { offer(candidate) }
                } else if continues {
                    unexpandedLater.append(candidate)
                }
            }
        }

        batch = results.items.sorted { $0.distance < $1.distance }
        batchNext = 0
        for candidate in batch { returned.insert(candidate.node) }
    }
}
