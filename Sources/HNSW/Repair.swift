/// Repairing the graph after nodes were deleted (VACUUM).
extension GraphWriter {
    /// Rebuilds `node`'s neighbour lists on every level where they point at
    /// a deleted node. Replacement candidates are the live neighbours and
    /// the live neighbours of the deleted neighbours (two hops), which keeps
    /// the region connected; when those are too few, a search from the entry
    /// point supplies more. `isDeleted` answers for nodes being removed.
    /// Returns true if anything changed.
    public func repairNeighbors(
        of node: Node, parameters: HNSWParameters, isDeleted: (Node) throws -> Bool
    ) throws -> Bool {
        let top = try level(of: node)
        let base = try vector(of: node)
        var changed = false
        for layer in 0...top {
            let current = try neighbors(of: node, level: layer)
            let dead = try current.filter(isDeleted)
            if dead.isEmpty { continue }
            changed = true
            var pool = Set(try current.filter { try !isDeleted($0) })
            for gone in dead {
                for n in try neighbors(of: gone, level: layer) where n != node {
                    if try !isDeleted(n) { pool.insert(n) }
                }
            }
            let limit = parameters.maxNeighbors(level: layer)
            try base.withUnsafeBufferPointer { b in
                var candidates = try pool.map { Candidate(distance: try visit($0, query: b.baseAddress!).distance, node: $0) }
                if candidates.count < limit, let (entry, _) = try descend(query: b.baseAddress!, toLevel: layer) {
                    var visited = makeVisitedSet()
                _ = visited.insert(node)
                    let found = try searchLayer(
                        query: b.baseAddress!, entries: [entry], ef: parameters.efConstruction, level: layer,
                        visited: &visited)
                    for c in found.items where !pool.contains(c.node) && c.node != node {
                        if try !isDeleted(c.node) { candidates.append(c) }
                    }
                }
                candidates.sort { $0.distance < $1.distance }
                let chosen = try selectNeighbors(base: b.baseAddress!, candidates: candidates, limit: limit)
                try setNeighbors(of: node, level: layer, to: chosen.map(\.node))
            }
        }
        return changed
    }
}
