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
                let chosen = try selectNeighbors(base: b.baseAddress!, candidates: candidates, limit: limit, fill: true)
                try setNeighbors(of: node, level: layer, to: chosen.map(\.node))
            }
        }
        return changed
    }
}

extension GraphWriter {
    /// Gives an unreachable live `node` an incoming link: a search from the
    /// entry point finds its nearest reachable live nodes; the nearest with
    /// a free slot links to it, or else the nearest one does (re-selecting,
    /// or replacing its farthest link). HNSW does not guarantee
    /// that every node keeps an incoming link as lists are pruned (under
    /// inner product, which is not a metric, about 1% lose theirs), and
    /// vacuum can remove a node's only referrers.
    /// Returns false if no such node exists (an empty or single-node graph).
    public func reconnect(_ node: Node, parameters: HNSWParameters) throws -> Bool {
        let base = try vector(of: node)
        return try base.withUnsafeBufferPointer { b in
            guard let (entry, _) = try descend(query: b.baseAddress!, toLevel: 0) else { return false }
            var visited = makeVisitedSet()
            _ = visited.insert(node)
            let found = try searchLayer(
                query: b.baseAddress!, entries: [entry], ef: parameters.efConstruction, level: 0, visited: &visited)
            // The nearest live nodes, at most a list's worth (liveness is
            // read only until that many are found).
            let limit = parameters.maxNeighbors(level: 0)
            var nearest: [Candidate<Node>] = []
            for candidate in found.items.sorted(by: { $0.distance < $1.distance }) where candidate.node != node {
                if nearest.count == limit { break }
                if try visit(candidate.node, query: b.baseAddress!).live { nearest.append(candidate) }
            }
            // Prefer one of them with a free slot: an append takes no link
            // away, where re-selecting or replacing can cut another node's
            // only incoming link (which is how, under inner product,
            // reconnecting one node used to orphan the next).
            for candidate in nearest {
                var appended = false
                try updateNeighbors(of: candidate.node, level: 0) { current in
                    guard current.count < limit, !current.contains(node) else { return nil }
                    appended = true
                    return current + [node]
                }
                if appended { return true }
            }
            guard let candidate = nearest.first else { return false }
            if try !link(candidate.node, to: node, distance: candidate.distance, level: 0, parameters: parameters) {
                try forceLink(candidate.node, to: node, level: 0)
            }
            return true
        }
    }
}

extension MemoryGraph {
    /// Live nodes that no path from the entry point reaches.
    public func unreachableNodes() -> [Int32] {
        guard let (entry, _) = entryPoint() else { return [] }
        var reached = DenseVisitedSet(capacity: count)
        var stack = [entry]
        _ = reached.insert(entry)
        while let node = stack.popLast() {
            for level in 0...level(of: node) {
                for next in neighbors(of: node, level: level) where reached.insert(next) { stack.append(next) }
            }
        }
        return (0..<Int32(count)).filter { !reached.contains($0) && !deleted.contains($0) }
    }

    /// Reconnects every unreachable node (a few passes: a reconnection can
    /// displace another node's last incoming link). Returns how many remain.
    @discardableResult
    public func reconnectUnreachable(passes: Int = 3) throws -> Int {
        var orphans = unreachableNodes()
        for _ in 0..<passes where !orphans.isEmpty {
            for node in orphans { _ = try reconnect(node, parameters: parameters) }
            orphans = unreachableNodes()
        }
        return orphans.count
    }
}
