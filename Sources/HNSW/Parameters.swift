#if canImport(Glibc)
import Glibc
#endif

/// Construction parameters of an HNSW graph.
public struct HNSWParameters: Sendable, Equatable {
    /// Neighbours per node on the upper layers; layer 0 keeps `2 * m`.
    public var m: Int
    /// Beam width while inserting.
    public var efConstruction: Int

    public init(m: Int, efConstruction: Int) {
        self.m = m
        self.efConstruction = efConstruction
    }

    /// The largest neighbour list on `level`.
    @inlinable
    public func maxNeighbors(level: Int) -> Int { level == 0 ? 2 * m : m }

    /// The highest level a node may get (keeps upper-layer storage bounded;
    /// at m = 16 a level above 8 needs ~4e9 nodes to happen by chance).
    public static let maxLevel = 15

    /// Draws a node level from the geometric distribution of the HNSW paper,
    /// P(level >= l) = m^-l, given a uniform random number in (0, 1].
    public func level(forUniform u: Double) -> Int {
        let level = Int(-log(max(u, .leastNonzeroMagnitude)) / log(Double(m)))
        return min(level, Self.maxLevel)
    }
}
