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
                var chosen = try selectNeighbors(base: b.baseAddress!, candidates: candidates, limit: limit, fill: true)
                // Live pinned links stay (VACUUM pins new paths for the
                // nodes whose pinned path went through a deleted node).
                let kept = try keptLinks(of: node, level: layer)
                if !kept.isEmpty { chosen = keeping(kept, in: chosen, from: candidates, limit: limit) ?? chosen }
                try setNeighbors(of: node, level: layer, to: chosen.map(\.node))
            }
        }
        return changed
    }
}

extension GraphWriter {
    /// Gives an unreachable live `node` an incoming link: a search from the
    /// entry point finds its nearest reachable live nodes; the nearest with
    /// a free slot links to it, or else the nearest that can replace a link
    /// (`giveIncomingLink`). HNSW does not guarantee
    /// that every node keeps an incoming link as lists are pruned (under
    /// inner product, which is not a metric, about 1% lose theirs), and
    /// vacuum can remove a node's only referrers.
    /// Returns false if no such node exists (an empty or single-node graph).
    public func reconnect(_ node: Node, parameters: HNSWParameters) throws -> Bool {
        let base = try vector(of: node)
        return try base.withUnsafeBufferPointer { b in
            guard let (landing, _) = try descend(query: b.baseAddress!, toLevel: 0),
                  let (entryNode, _) = try entryPoint() else { return false }
            // Layer 0 is searched from the entry point too: the descent can
            // land on `node` itself (reached through upper layers only),
            // and reachability is counted from the entry point.
            var entries = [Candidate(distance: try visit(entryNode, query: b.baseAddress!).distance, node: entryNode)]
            if landing.node != entryNode { entries.append(landing) }
            var visited = makeVisitedSet()
            _ = visited.insert(node)
            let found = try searchLayer(
                query: b.baseAddress!, entries: entries, ef: parameters.efConstruction, level: 0, visited: &visited)
            // The nearest live nodes, at most a list's worth (liveness is
            // read only until that many are found).
            let limit = parameters.maxNeighbors(level: 0)
            var nearest: [Candidate<Node>] = []
            for candidate in found.items.sorted(by: { $0.distance < $1.distance }) where candidate.node != node {
                if nearest.count == limit { break }
                if try visit(candidate.node, query: b.baseAddress!).live { nearest.append(candidate) }
            }
            // Pinned, so that reconnecting the next node cannot take this
            // link away again (each would replace the other's, round after
            // round, in a hub's list).
            if keepsIncomingLinks { return try pinLink(to: node, referrers: [], candidates: nearest, parameters: parameters) }
            return try giveIncomingLink(to: node, from: nearest, level: 0, parameters: parameters)
        }
    }
}

extension MemoryGraph {
    /// Live nodes that no path on layer 0 from the entry point reaches
    /// (every search ends on layer 0; a node reached only through an upper
    /// layer's links would be passed over).
    public func unreachableNodes() -> [Int32] {
        guard let (entry, _) = entryPoint() else { return [] }
        var reached = DenseVisitedSet(capacity: count)
        var stack = [entry]
        _ = reached.insert(entry)
        while let node = stack.popLast() {
            for next in neighbors(of: node, level: 0) where reached.insert(next) { stack.append(next) }
        }
        return (0..<Int32(count)).filter { !reached.contains($0) && !deleted.contains($0) }
    }

    /// Reconnects every unreachable node, in rounds until none is left,
    /// with `keepsIncomingLinks` on (single-threaded), so each reconnection
    /// is pinned. Stops early after a round that reconnected nothing.
    /// Returns how many remain.
    @discardableResult
    public func reconnectUnreachable(rounds: Int = 10) throws -> Int {
        let saved = keepsIncomingLinks
        keepsIncomingLinks = true
        defer { keepsIncomingLinks = saved }
        var orphans = unreachableNodes()
        for _ in 0..<rounds where !orphans.isEmpty {
            var reconnected = 0
            for node in orphans where try reconnect(node, parameters: parameters) { reconnected += 1 }
            if reconnected == 0 { break }
            orphans = unreachableNodes()
        }
        return orphans.count
    }

    /// Pins, for every node the entry point reaches on layer 0, one link
    /// in from a node reached before it: the pinned links of a graph built
    /// in memory, written with it to the pages. A node pins at most m of
    /// its links (a plain breadth-first tree would pin every link of the
    /// first nodes, leaving later pruning nothing to replace there); a
    /// node all of whose referrers are full is pinned by one anyway.
    public func pinSpanningTree() {
        guard let (entry, _) = entryPoint() else { return }
        var reached = DenseVisitedSet(capacity: count)
        _ = reached.insert(entry)
        var pinnedCount = [UInt8](repeating: 0, count: count)
        var queue = [entry]
        var head = 0
        var overflow: [(from: Int32, to: Int32)] = []
        func walk() {
            while head < queue.count {
                let node = queue[head]
                head += 1
                for next in neighbors(of: node, level: 0) where !reached.contains(next) {
                    guard Int(pinnedCount[Int(node)]) < parameters.m else {
                        overflow.append((node, next))
                        continue
                    }
                    _ = reached.insert(next)
                    _ = pin(next, in: node)
                    pinnedCount[Int(node)] += 1
                    queue.append(next)
                }
            }
        }
        walk()
        for (from, to) in overflow where !reached.contains(to) {
            _ = reached.insert(to)
            _ = pin(to, in: from)
            queue.append(to)
            walk()
        }
    }
}
