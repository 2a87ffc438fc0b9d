/// Insertion (Algorithm 1) and the neighbour-selection heuristic
/// (Algorithm 4) over `GraphWriter`.
extension GraphWriter {
    /// Links `node`, already stored with its prepared `vector` and `level`
    /// but no neighbours, into the graph. With `keepsIncomingLinks` it also
    /// keeps every node reachable: no pinned link is dropped, `node` gets a
    /// pinned link in, and a new entry point pins one to the old.
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
                var referrers: [Node] = []
                for neighbor in chosen {
                    if try link(neighbor.node, to: node, distance: neighbor.distance, level: layer, parameters: parameters) {
                        referrers.append(neighbor.node)
                    }
                }
                if layer == 0 && keepsIncomingLinks {
                    try pinLink(to: node, referrers: referrers, candidates: entries, parameters: parameters)
                } else if referrers.isEmpty {
                    try giveIncomingLink(to: node, from: entries, level: layer, parameters: parameters)
                }
            }
            if level > top {
                // The old entry point reaches every node by pinned links;
                // the new one must reach the old.
                if keepsIncomingLinks, let (old, _) = try entryPoint(),
                   try giveLink(from: node, to: old, level: 0, limit: parameters.maxNeighbors(level: 0)) {
                    _ = try pin(old, in: node)
                }
                try setEntryPoint(node, level: level)
            }
        }
    }

    /// Gives `newNode` its pinned layer-0 link: from the nearest node that
    /// already links to it (`referrers`, nearest first), else from the
    /// nearest of `candidates` (found by the search, so reachable), which
    /// takes it in a free slot or in place of its farthest unpinned link.
    /// A node pins at most m of its 2·m links, so there is always room.
    /// Returns whether a link was pinned.
    @discardableResult
    func pinLink(
        to newNode: Node, referrers: [Node], candidates: [Candidate<Node>], parameters: HNSWParameters
    ) throws -> Bool {
        let maxPinned = parameters.m
        for referrer in referrers where try pinnedNeighbors(of: referrer).count < maxPinned {
            if try pin(newNode, in: referrer) { return true }
        }
        for candidate in candidates where candidate.node != newNode {
            guard try pinnedNeighbors(of: candidate.node).count < maxPinned,
                  try giveLink(from: candidate.node, to: newNode, level: 0, limit: parameters.maxNeighbors(level: 0))
            else { continue }
            if try pin(newNode, in: candidate.node) { return true }
        }
        // Every candidate has pinned its m links (many copies of one
        // vector: every search finds the same few nodes). Pinned links lead
        // from the nearest candidate down to nodes that pin less, the last
        // ones to nodes that pin none; the first with an unpinned slot takes
        // `newNode`, and it is reached by pinned links, being reached by them.
        guard let start = candidates.first(where: { $0.node != newNode })?.node else { return false }
        var queue = [start]
        var seen: Set<Node> = [start, newNode]
        var head = 0
        while head < queue.count && head < Self.pinWalkLimit {
            let node = queue[head]
            head += 1
            let pinned = try pinnedNeighbors(of: node)
            if pinned.count < parameters.maxNeighbors(level: 0),
               try giveLink(from: node, to: newNode, level: 0, limit: parameters.maxNeighbors(level: 0)),
               try pin(newNode, in: node) {
                return true
            }
            for next in pinned where seen.insert(next).inserted { queue.append(next) }
        }
        return false
    }

    /// How many nodes `pinLink`'s last resort looks at, at most.
    static var pinWalkLimit: Int { 100_000 }

    /// Appends `target` to `node`'s list on `level` if it has a free slot
    /// (an append takes no link away). Returns whether it did.
    func append(_ target: Node, to node: Node, level: Int, limit: Int) throws -> Bool {
        var appended = false
        try updateNeighbors(of: node, level: level) { current in
            guard current.count < limit, !current.contains(target) else { return nil }
            appended = true
            return current + [target]
        }
        return appended
    }

    /// Puts `target` into `node`'s list on `level`: in a free slot, else in
    /// place of the farthest entry that may go (`forceLink`). Returns
    /// whether `target` is in the list afterwards.
    @discardableResult
    func giveLink(from node: Node, to target: Node, level: Int, limit: Int) throws -> Bool {
        try append(target, to: node, level: level, limit: limit) || forceLink(node, to: target, level: level)
    }

    /// The links of `node` on `level` that pruning must keep: its pinned
    /// layer-0 links with `keepsIncomingLinks`, else none.
    func keptLinks(of node: Node, level: Int) throws -> Set<Node> {
        guard keepsIncomingLinks && level == 0 else { return [] }
        return Set(try pinnedNeighbors(of: node))
    }

    /// Adds `newNode` to `node`'s neighbour list on `level`, shrinking the
    /// list with the heuristic when it is full. Returns whether `newNode`
    /// is in the list afterwards. A pinned link is never dropped.
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
                var chosen = try selectNeighbors(base: base, candidates: candidates, limit: limit, fill: refillsOnReselection)
                let kept = try keptLinks(of: node, level: level)
                if !kept.isEmpty {
                    guard let safe = keeping(kept, in: chosen, from: candidates, limit: limit) else { return nil }
                    chosen = safe
                }
                linked = chosen.contains { $0.node == newNode }
                return chosen.map(\.node)
            }
        }
        return linked
    }

    /// `chosen`, a re-selection from `candidates`, with every node of
    /// `kept` among the candidates back in it: in a free slot, or in place
    /// of the farthest chosen entry not in `kept`. Nil if they do not all
    /// fit (then the list must not change).
    func keeping(
        _ kept: Set<Node>, in chosen: [Candidate<Node>], from candidates: [Candidate<Node>], limit: Int
    ) -> [Candidate<Node>]? {
        var result = chosen
        let inResult = Set(chosen.map(\.node))
        for candidate in candidates where kept.contains(candidate.node) && !inResult.contains(candidate.node) {
            if result.count < limit {
                result.append(candidate)
                continue
            }
            let replaceable = result.indices.filter { !kept.contains(result[$0].node) }
            guard let farthest = replaceable.max(by: { result[$0].distance < result[$1].distance }) else { return nil }
            result[farthest] = candidate
        }
        return result
    }

    /// Guarantees `newNode` an incoming link when every neighbour's heuristic
    /// dropped it (common under inner product, which is not a metric): it
    /// replaces the farthest entry of `node`'s list that is not pinned. The
    /// replaced node keeps the other links that point at it. Returns
    /// whether `newNode` is in the list afterwards.
    @discardableResult
    func forceLink(_ node: Node, to newNode: Node, level: Int) throws -> Bool {
        var linked = false
        try updateNeighbors(of: node, level: level) { current in
            if current.contains(newNode) {
                linked = true
                return nil
            }
            let kept = try keptLinks(of: node, level: level)
            return try withVector(of: node) { base in
                var farthest: Int?
                var farthestDistance = -Float.infinity
                for (i, existing) in current.enumerated() where !kept.contains(existing) {
                    let d = try visit(existing, query: base).distance
                    if farthest == nil || d > farthestDistance { (farthest, farthestDistance) = (i, d) }
                }
                guard let farthest else { return nil }
                var updated = current
                updated[farthest] = newNode
                linked = true
                return updated
            }
        }
        return linked
    }

    /// Gives `newNode`, which no list on `level` links to, an incoming link
    /// from one of `candidates` (nearest first): the first with a free slot
    /// (an append takes no link away), else the first that can replace a
    /// link (`forceLink`). Returns whether one did.
    @discardableResult
    func giveIncomingLink(
        to newNode: Node, from candidates: [Candidate<Node>], level: Int, parameters: HNSWParameters
    ) throws -> Bool {
        let limit = parameters.maxNeighbors(level: level)
        for candidate in candidates where candidate.node != newNode {
            if try append(newNode, to: candidate.node, level: level, limit: limit) { return true }
        }
        for candidate in candidates where candidate.node != newNode {
            if try forceLink(candidate.node, to: newNode, level: level) { return true }
        }
        return false
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
