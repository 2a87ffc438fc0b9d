/// A node and its distance to the current query or base node.
public struct Candidate<Node: Hashable>: Sendable where Node: Sendable {
    public var distance: Float
    public var node: Node
    @inlinable
    public init(distance: Float, node: Node) {
        self.distance = distance
        self.node = node
    }
}

/// Binary heap of candidates ordered by distance: the nearest on top when
/// `nearestFirst`, the farthest otherwise. Ties break on nothing in particular.
@usableFromInline
struct CandidateHeap<Node: Hashable & Sendable> {
    @usableFromInline var items: [Candidate<Node>] = []
    @usableFromInline let nearestFirst: Bool

    @inlinable init(nearestFirst: Bool) { self.nearestFirst = nearestFirst }

    @inlinable var count: Int { items.count }
    @inlinable var isEmpty: Bool { items.isEmpty }
    @inlinable var top: Candidate<Node>? { items.first }

    @inlinable func before(_ a: Candidate<Node>, _ b: Candidate<Node>) -> Bool {
        nearestFirst ? a.distance < b.distance : a.distance > b.distance
    }

    @inlinable mutating func push(_ item: Candidate<Node>) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    @inlinable @discardableResult mutating func pop() -> Candidate<Node>? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let result = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < items.count else { break }
            var best = left
            if left + 1 < items.count && before(items[left + 1], items[left]) { best = left + 1 }
            guard before(items[best], items[parent]) else { break }
            items.swapAt(best, parent)
            parent = best
        }
        return result
    }
}
