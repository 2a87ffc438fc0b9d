/// The search procedures of HNSW (Malkov & Yashunin, Algorithms 2 and 5),
/// written once over `GraphReader`.
extension GraphReader {
    /// Beam search on one layer from `entries`: the `ef` nearest nodes found,
    /// farthest on top. Deleted nodes are traversed and kept (they connect
    /// the graph); callers filter them where results are returned.
    @usableFromInline
    func searchLayer(
        query: UnsafePointer<Float>, entries: [Candidate<Node>], ef: Int, level: Int, visited: inout Visited
    ) throws -> CandidateHeap<Node> {
        var candidates = CandidateHeap<Node>(nearestFirst: true)
        var results = CandidateHeap<Node>(nearestFirst: false)
        for entry in entries where visited.insert(entry.node) {
            candidates.push(entry)
            results.push(entry)
            if results.count > ef { results.pop() }
        }
        var expanded = 0
        while let current = candidates.pop() {
            if results.count >= ef, let worst = results.top, current.distance > worst.distance { break }
            expanded += 1
            if expanded % 64 == 0 { try checkInterrupts() }
            try forEachUnvisitedNeighbor(of: current.node, level: level, visited: &visited) { neighbor in
                let (distance, _) = try visit(neighbor, query: query)
                if results.count < ef || distance < results.top!.distance {
                    let candidate = Candidate(distance: distance, node: neighbor)
                    candidates.push(candidate)
                    results.push(candidate)
                    if results.count > ef { results.pop() }
                }
            }
        }
        return results
    }

    /// Greedy descent from the entry point to `level + 1`'s best node:
    /// the entry for the layers at and below `level`. Nil for an empty graph.
    @usableFromInline
    func descend(query: UnsafePointer<Float>, toLevel level: Int) throws -> (entry: Candidate<Node>, top: Int)? {
        guard let (entryNode, top) = try entryPoint() else { return nil }
        var best = Candidate(distance: try visit(entryNode, query: query).distance, node: entryNode)
        var current = top
        while current > level {
            var visited = makeVisitedSet()
            let layer = try searchLayer(query: query, entries: [best], ef: 1, level: current, visited: &visited)
            best = layer.items.min { $0.distance < $1.distance } ?? best
            current -= 1
        }
        return (best, top)
    }

    /// The (up to) `ef` nearest live nodes to a prepared query, nearest
    /// first: the "basic" search an index scan returns.
    public func search(query: [Float], ef: Int) throws -> [Candidate<Node>] {
        guard query.count == dimensions else {
            throw GraphFailure.invalidArgument("query has \(query.count) dimensions, graph has \(dimensions)")
        }
        return try query.withUnsafeBufferPointer { q -> [Candidate<Node>] in
            guard let (entry, _) = try descend(query: q.baseAddress!, toLevel: 0) else { return [] }
            var visited = makeVisitedSet()
            let found = try searchLayer(query: q.baseAddress!, entries: [entry], ef: ef, level: 0, visited: &visited)
            var live: [Candidate<Node>] = []
            live.reserveCapacity(found.count)
            for candidate in found.items where try visit(candidate.node, query: q.baseAddress!).live {
                live.append(candidate)
            }
            return live.sorted { $0.distance < $1.distance }
        }
    }
}
