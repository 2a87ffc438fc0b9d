/// Insertion (Algorithm 1) and the neighbour-selection heuristic
/// (Algorithm 4) over `GraphWriter`.
extension GraphWriter {
    /// Links `node`, already stored with its prepared `vector` and `level`
    /// but no neighbours, into the graph.
    public func insert(_ node: Node, vector: [Float], level: Int, parameters: HNSWParameters) throws {
        try vector.withUnsafeBufferPointer { q in
            let query = q.baseAddress!
            guard let (entry, top) = try descend(query: query, toLevel: level) else {
                try setEntryPoint(node, level: level)
                return
            }
            var entries = [entry]
            for layer in stride(from: min(level, top), through: 0, by: -1) {
                var visited = makeVisitedSet()
                _ = visited.insert(node)
                let found = try searchLayer(
                    query: query, entries: entries, ef: parameters.efConstruction, level: layer, visited: &visited)
                entries = found.items.sorted { $0.distance < $1.distance }
                let chosen = try selectNeighbors(
                    base: query, candidates: entries, limit: parameters.maxNeighbors(level: layer), fill: true)
                try setNeighbors(of: node, level: layer, to: chosen.map(\.node))
                var linkedBack = false
                for neighbor in chosen {
                    if try link(neighbor.node, to: node, distance: neighbor.distance, level: layer, parameters: parameters) {
                        linkedBack = true
                    }
                }
                if !linkedBack, let nearest = chosen.first {
                    try forceLink(nearest.node, to: node, level: layer)
                }
            }
            if level > top { try setEntryPoint(node, level: level) }
        }
    }

    /// Adds `newNode` to `node`'s neighbour list on `level`, shrinking the
    /// list with the heuristic when it is full. Returns whether `newNode`
    /// is in the list afterwards.
    @discardableResult
    func link(_ node: Node, to newNode: Node, distance: Float, level: Int, parameters: HNSWParameters) throws -> Bool {
        let limit = parameters.maxNeighbors(level: level)
        var linked = false
        try updateNeighbors(of: node, level: level) { current in
            if current.contains(newNode) {
                linked = true
                return nil
            }
            if current.count < limit {
                linked = true
                return current + [newNode]
            }
            return try withVector(of: node) { base in
                var candidates = [Candidate(distance: distance, node: newNode)]
                for existing in current {
                    candidates.append(Candidate(distance: try visit(existing, query: base).distance, node: existing))
                }
                candidates.sort { $0.distance < $1.distance }
                let chosen = try selectNeighbors(base: base, candidates: candidates, limit: limit, fill: refillsOnReselection)
                linked = chosen.contains { $0.node == newNode }
                return chosen.map(\.node)
            }
        }
        return linked
    }

    /// Guarantees `newNode` an incoming link when every neighbour's heuristic
    /// dropped it (common under inner product, which is not a metric): it
    /// replaces the farthest entry of `node`'s list. The replaced node keeps
    /// the other links that point at it.
    func forceLink(_ node: Node, to newNode: Node, level: Int) throws {
        try updateNeighbors(of: node, level: level) { current in
            if current.contains(newNode) || current.isEmpty { return nil }
            return try withVector(of: node) { base in
                var farthest = 0
                var farthestDistance = -Float.infinity
                for (i, existing) in current.enumerated() {
                    let d = try visit(existing, query: base).distance
                    if d > farthestDistance { (farthest, farthestDistance) = (i, d) }
                }
                var updated = current
                updated[farthest] = newNode
                return updated
            }
        }
    }

    /// The heuristic of the HNSW paper: walk candidates nearest first and
    /// keep one only if it is closer to the base than to every node kept so
    /// far, which spreads links in different directions. With `fill`, the
    /// nearest discarded candidates then fill the room left.
    ///
    /// A new node's own list is filled (it starts with as many links as
    /// allowed), and so is a list VACUUM repairs. In the in-memory build a
    /// full list that must take a back-link re-selects *without* filling
    /// (`refillsOnReselection`): it keeps only its diverse links, which
    /// leaves room, so the next several back-links are plain appends
    /// instead of one re-selection each (a re-selection costs up to 2·m
    /// distances plus the pairwise diversity tests). On 100,000 GloVe
    /// vectors that linked about 2x faster than refilling, with the same
    /// recall at the same ef_search; on layer 0 lists then hold about
    /// 20–25 of their 32 slots (docs/INDEX.md).
    /// `candidates` must be sorted nearest first.
    func selectNeighbors(
        base: UnsafePointer<Float>, candidates: [Candidate<Node>], limit: Int, fill: Bool
    ) throws -> [Candidate<Node>] {
        if candidates.count <= limit { return candidates }
        let distance = metric.function
        let dims = dimensions
        var kept: [Candidate<Node>] = []
        kept.reserveCapacity(limit)
        // The kept vectors, back to back, so the diversity test is plain pointer math.
        var keptVectors = [Float](repeating: 0, count: limit * dims)
        var discarded: [Candidate<Node>] = []
        try keptVectors.withUnsafeMutableBufferPointer { keptBuffer in
            let keptBase = keptBuffer.baseAddress!
            for candidate in candidates {
                if kept.count == limit { break }
                let keptCount = kept.count
                let diverse = try withVector(of: candidate.node) { c -> Bool in
                    for j in 0..<keptCount where distance(c, keptBase + j * dims, dims) <= candidate.distance {
                        return false
                    }
                    (keptBase + keptCount * dims).update(from: c, count: dims)
                    return true
                }
                if diverse { kept.append(candidate) } else { discarded.append(candidate) }
            }
        }
        if fill { for candidate in discarded where kept.count < limit { kept.append(candidate) } }
        return kept
    }
}
