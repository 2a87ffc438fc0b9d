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
                // With `keepsIncomingLinks` one slot stays free for the
                // last resort of `giveIncomingLink`.
                let limit = parameters.maxNeighbors(level: layer) - (keepsIncomingLinks ? 1 : 0)
                let chosen = try selectNeighbors(base: query, candidates: entries, limit: limit, fill: true)
                try setNeighbors(of: node, level: layer, to: chosen.map(\.node))
                var linkedBack = false
                for neighbor in chosen {
                    if try link(neighbor.node, to: node, distance: neighbor.distance, level: layer, parameters: parameters) {
                        linkedBack = true
                    }
                }
                if !linkedBack {
                    try giveIncomingLink(to: node, from: entries, level: layer, parameters: parameters)
                }
            }
            if level > top {
                // Reachability is counted from the entry point on layer 0:
                // the new entry must reach the old one, and so everything.
                if keepsIncomingLinks, let (old, _) = try entryPoint() {
                    try giveLink(from: node, to: old, level: 0, limit: parameters.maxNeighbors(level: 0))
                }
                try setEntryPoint(node, level: level)
            }
        }
    }

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
    /// place of the farthest entry that may go (`forceLink`).
    @discardableResult
    func giveLink(from node: Node, to target: Node, level: Int, limit: Int) throws -> Bool {
        try append(target, to: node, level: level, limit: limit) || forceLink(node, to: target, level: level)
    }

    /// Adds `newNode` to `node`'s neighbour list on `level`, shrinking the
    /// list with the heuristic when it is full. Returns whether `newNode`
    /// is in the list afterwards. With `keepsIncomingLinks`, no node loses
    /// its last incoming link on `level` this way (see `keepingReferred`).
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
                if keepsIncomingLinks {
                    let kept = Set(chosen.map(\.node))
                    let dropped = candidates.filter { !kept.contains($0.node) && $0.node != newNode }
                    guard let safe = try keepingReferred(chosen, dropped: dropped, of: node, level: level, limit: limit,
                                                         droppable: { $0 == newNode }) else { return nil }
                    chosen = safe
                }
                linked = chosen.contains { $0.node == newNode }
                return chosen.map(\.node)
            }
        }
        return linked
    }

    /// Whether `node` keeps a way in on `level` without `except`'s link to
    /// it: some other node links to it and is itself linked to by a node
    /// other than those two, and so on, three links deep (`anchored`).
    /// Looking one link deep was not enough: two nodes that only linked to
    /// each other were cut off together (2 of 6,000 rows after far-away
    /// inserts and updates under inner product). Reads at most 64 lists;
    /// false means "no such way found", so callers keep the link.
    func hasOtherReferrer(_ node: Node, level: Int, except: Node) throws -> Bool {
        var budget = 64
        return try anchored(node, level: level, path: [except, node], depth: 3, budget: &budget)
    }

    /// Whether a node outside `path` links to `node` on `level` and, for
    /// `depth` > 1, is itself anchored the same way with one step less. The
    /// referrers are looked for among `node`'s own neighbours (links mostly
    /// go both ways, so the first one or two usually answer). `budget`
    /// counts the lists read.
    func anchored(_ node: Node, level: Int, path: [Node], depth: Int, budget: inout Int) throws -> Bool {
        guard budget > 0 else { return false }
        budget -= 1
        for referrer in try neighbors(of: node, level: level) where !path.contains(referrer) {
            guard budget > 0 else { return false }
            budget -= 1
            guard try neighbors(of: referrer, level: level).contains(node) else { continue }
            if depth == 1 { return true }
            if try anchored(referrer, level: level, path: path + [referrer], depth: depth - 1, budget: &budget) {
                return true
            }
        }
        return false
    }

    /// `chosen`, a re-selection of `node`'s list on `level`, changed so that
    /// every node it drops (`dropped`) that no other list is known to link
    /// to stays: in a free slot, or in place of the farthest entry that may
    /// go (one `droppable` says may, or one with another referrer). Nil when
    /// some such node cannot stay: then the list must not change. This is
    /// the rule that keeps every node reachable as lists are pruned one
    /// insert at a time (re-selecting or replacing one link at a time used
    /// to cut a few nodes' last incoming link: 3 of 3,000 far-away vectors
    /// inserted into 20,000 GloVe rows under inner product).
    func keepingReferred(
        _ chosen: [Candidate<Node>], dropped: [Candidate<Node>], of node: Node, level: Int, limit: Int,
        droppable: (Node) -> Bool
    ) throws -> [Candidate<Node>]? {
        var result = chosen
        // Verified once each: dropping a link from `node`'s list never
        // changes whether another list links to a node.
        var mayGo: [Node: Bool] = [:]
        func canGo(_ candidate: Node) throws -> Bool {
            if droppable(candidate) { return true }
            if let known = mayGo[candidate] { return known }
            let answer = try hasOtherReferrer(candidate, level: level, except: node)
            mayGo[candidate] = answer
            return answer
        }
        for gone in dropped where try !canGo(gone.node) {
            if result.count < limit {
                result.append(gone)
                continue
            }
            // The farthest entry that may go makes room.
            var replaced = false
            for i in result.indices.sorted(by: { result[$0].distance > result[$1].distance }) where try canGo(result[i].node) {
                mayGo[result[i].node] = true
                result[i] = gone
                replaced = true
                break
            }
            if !replaced { return nil }
        }
        return result
    }

    /// Guarantees `newNode` an incoming link when every neighbour's heuristic
    /// dropped it (common under inner product, which is not a metric): it
    /// replaces the farthest entry of `node`'s list (with
    /// `keepsIncomingLinks`, the farthest that another list also links to).
    /// The replaced node keeps the other links that point at it. Returns
    /// whether `newNode` is in the list afterwards.
    @discardableResult
    func forceLink(_ node: Node, to newNode: Node, level: Int) throws -> Bool {
        var linked = false
        try updateNeighbors(of: node, level: level) { current in
            if current.contains(newNode) {
                linked = true
                return nil
            }
            if current.isEmpty { return nil }
            return try withVector(of: node) { base in
                var entries = try current.map { Candidate(distance: try visit($0, query: base).distance, node: $0) }
                let farthestFirst = entries.indices.sorted { entries[$0].distance > entries[$1].distance }
                for i in farthestFirst {
                    if keepsIncomingLinks, try !hasOtherReferrer(entries[i].node, level: level, except: node) { continue }
                    entries[i] = Candidate(distance: 0, node: newNode)
                    linked = true
                    return entries.map(\.node)
                }
                return nil
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
        // Every list is full of links that are some node's only way in
        // (seen under inner product at small m). Then the nearest candidate
        // takes `newNode` in place of its farthest link, and `newNode`
        // takes over that link in the slot it keeps free for this: the
        // displaced node is reached through `newNode` instead.
        guard keepsIncomingLinks, let nearest = candidates.first(where: { $0.node != newNode }) else { return false }
        var displaced: Node?
        try updateNeighbors(of: nearest.node, level: level) { current in
            guard !current.contains(newNode) else { return nil }
            return try withVector(of: nearest.node) { base in
                let distances = try current.map { try visit($0, query: base).distance }
                guard let farthest = distances.indices.max(by: { distances[$0] < distances[$1] }) else { return nil }
                displaced = current[farthest]
                var updated = current
                updated[farthest] = newNode
                return updated
            }
        }
        if let displaced { try giveLink(from: newNode, to: displaced, level: level, limit: limit) }
        return displaced != nil
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
