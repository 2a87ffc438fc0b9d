/// A nearest-neighbour search that produces results one at a time, for as
/// long as the caller keeps asking (the VBASE idea, OSDI'23: relaxed
/// monotonicity).
///
/// Phase 1 is the ordinary HNSW search with breadth `ef`; its live results
/// come out first, in exact distance order among themselves. In `basic`
/// mode the stream ends there. Otherwise phase 2 continues the traversal
/// best-first from everything phase 1 saw but did not expand: each call
/// emits the nearest found-but-unreturned node as soon as no unexpanded
/// node is nearer, so later rows come in approximately increasing
/// distance. The stream ends when the graph is exhausted (then every
/// reachable live node has been returned exactly once) or when its memory
/// reaches `memoryLimit`.
public final class SearchStream<G: GraphReader> {
    public let graph: G
    let query: [Float]
    let ef: Int
    let continues: Bool
    let memoryLimit: Int

    var started = false
    var visited: G.Visited
    /// Found, live, not yet returned, nearest on top.
    var pending = CandidateHeap<G.Node>(nearestFirst: true)
    /// Phase 1's results, in order, still to be returned.
    var phaseOne: [Candidate<G.Node>] = []
    var phaseOneNext = 0
    /// Seen but not expanded, nearest on top (phase 2's frontier).
    var frontier = CandidateHeap<G.Node>(nearestFirst: true)
    var returned: Set<G.Node> = []
    /// True once the stream stopped because of `memoryLimit`.
    public private(set) var hitMemoryLimit = false

    /// Bytes one remembered node costs (sets and heaps), for `memoryLimit`.
    static var bytesPerNode: Int { 3 * (MemoryLayout<G.Node>.stride + 16) }

    /// - Parameters:
    ///   - query: prepared (unit length for cosine).
    ///   - ef: breadth of phase 1.
    ///   - continues: false for basic mode (phase 1 only).
    ///   - memoryLimit: bytes of search state at which phase 2 stops.
    public init(graph: G, query: [Float], ef: Int, continues: Bool, memoryLimit: Int) {
        precondition(query.count == graph.dimensions)
        self.graph = graph
        self.query = query
        self.ef = max(ef, 1)
        self.continues = continues
        self.memoryLimit = memoryLimit
        self.visited = graph.makeVisitedSet()
    }

    /// Approximate bytes held by the search state.
    public var memoryUsage: Int { (visited.count + frontier.count + returned.count) * Self.bytesPerNode }

    /// The next result, or nil at the end of the stream.
    public func next() throws -> Candidate<G.Node>? {
        try query.withUnsafeBufferPointer { q in
            if !started {
                started = true
                try runPhaseOne(q.baseAddress!)
            }
            while phaseOneNext < phaseOne.count {
                let candidate = phaseOne[phaseOneNext]
                phaseOneNext += 1
                returned.insert(candidate.node)
                return candidate
            }
            guard continues else { return nil }
            return try nextFromPhaseTwo(q.baseAddress!)
        }
    }

    func runPhaseOne(_ q: UnsafePointer<Float>) throws {
        guard let (entry, _) = try graph.descend(query: q, toLevel: 0) else { return }
        var candidates = CandidateHeap<G.Node>(nearestFirst: true)
        var results = CandidateHeap<G.Node>(nearestFirst: false)
        _ = visited.insert(entry.node)
        candidates.push(entry)
        results.push(entry)
        var expanded = 0
        while let current = candidates.pop() {
            if results.count >= ef, let worst = results.top, current.distance > worst.distance {
                frontier.push(current)  // phase 2 may expand it later
                break
            }
            expanded += 1
            if expanded % 64 == 0 { try graph.checkInterrupts() }
            for neighbor in try graph.neighbors(of: current.node, level: 0) where visited.insert(neighbor) {
                let distance = try graph.visit(neighbor, query: q).distance
                let candidate = Candidate(distance: distance, node: neighbor)
                if results.count < ef || distance < results.top!.distance {
                    candidates.push(candidate)
                    results.push(candidate)
                    if results.count > ef, let dropped = results.pop() { remember(dropped) }
                } else {
                    remember(candidate)
                }
            }
        }
        while let leftover = candidates.pop() { frontier.push(leftover) }
        var found: [Candidate<G.Node>] = []
        for candidate in results.items where try graph.visit(candidate.node, query: q).live {
            found.append(candidate)
        }
        phaseOne = found.sorted { $0.distance < $1.distance }
    }

    /// A node seen in phase 1 that phase 1 will not return: phase 2 expands
    /// it (and so also considers returning it) in distance order.
    func remember(_ candidate: Candidate<G.Node>) {
        if continues { frontier.push(candidate) }
    }

    func nextFromPhaseTwo(_ q: UnsafePointer<Float>) throws -> Candidate<G.Node>? {
        var expanded = 0
        while true {
            if let best = pending.top, frontier.top.map({ best.distance <= $0.distance }) ?? true {
                pending.pop()
                if returned.insert(best.node).inserted { return best }
                continue
            }
            guard let current = frontier.pop() else { return nil }
            if memoryUsage > memoryLimit {
                hitMemoryLimit = true
                return nil
            }
            // Expanding a node also offers the node itself for return.
            if !returned.contains(current.node), try graph.visit(current.node, query: q).live {
                pending.push(current)
            }
            expanded += 1
            if expanded % 64 == 0 { try graph.checkInterrupts() }
            for neighbor in try graph.neighbors(of: current.node, level: 0) where visited.insert(neighbor) {
                let distance = try graph.visit(neighbor, query: q).distance
                frontier.push(Candidate(distance: distance, node: neighbor))
            }
        }
    }
}
