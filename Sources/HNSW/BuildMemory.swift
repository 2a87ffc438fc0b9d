#if canImport(Glibc)
import Glibc
#endif
import CVectorsShim

/// Why the graph code stopped, when it was not the storage's error. Thrown
/// instead of trapping: inside a PostgreSQL backend a trap ends every
/// session, an error ends one statement.
public enum GraphFailure: Error, Equatable, Sendable {
    /// A build array could not get memory: `bytes` is the size asked for
    /// (Int.max when the size itself overflowed).
    case outOfMemory(bytes: Int)
    /// A caller broke a contract (a query of the wrong length, a list longer
    /// than its level allows, a level above the node's): a bug, reported.
    case invalidArgument(String)
}

/// How the build's large arrays get their memory. `system` maps pages (see
/// `HugePages`); tests substitute a mapper that refuses above a size, to
/// reach the out-of-memory paths.
public struct PageMapper: Sendable {
    /// New memory of `bytes` bytes, or nil.
    public var map: @Sendable (_ bytes: Int) -> UnsafeMutableRawPointer?
    /// Memory of `newBytes` holding the first `oldBytes` of `old` (which is
    /// gone then), or nil with `old` untouched.
    public var remap: @Sendable (_ old: UnsafeMutableRawPointer, _ oldBytes: Int, _ newBytes: Int) -> UnsafeMutableRawPointer?

    public init(
        map: @escaping @Sendable (Int) -> UnsafeMutableRawPointer?,
        remap: @escaping @Sendable (UnsafeMutableRawPointer, Int, Int) -> UnsafeMutableRawPointer?
    ) {
        self.map = map
        self.remap = remap
    }

    /// Anonymous mappings marked for transparent huge pages.
    public static let system = PageMapper(
        map: { vectors_huge_map($0) }, remap: { vectors_huge_remap($0, $1, $2) })

    /// The system's, refusing any mapping or remapping to more than `limit`
    /// bytes (for tests).
    public static func refusing(above limit: Int) -> PageMapper {
        PageMapper(
            map: { $0 > limit ? nil : vectors_huge_map($0) },
            remap: { $2 > limit ? nil : vectors_huge_remap($0, $1, $2) })
    }
}

/// Large arrays that a search reads at random (vectors, layer-0 lists):
/// mapped directly and marked for transparent huge pages, so a read costs a
/// cache miss but rarely also a page-table walk (4 KiB pages give a Zen 4
/// core 12 MB of TLB reach; the vectors of 110,000 384-d rows are 170 MB).
/// Linking 110,000 MiniLM vectors took 12.8 s instead of 15.0 s in CREATE
/// INDEX. Without huge pages (a kernel set to `never`) this is plain memory.
enum HugePages {
    /// Below one huge page, plain malloc.
    static let threshold = Int(VECTORS_HUGE_PAGE)
}

/// One of the build graph's per-node arrays of trivial values. Growing
/// asks for memory that may be refused, and a refusal is a thrown
/// `GraphFailure.outOfMemory` with the size, never a trap (Swift's own
/// allocations end the process when malloc fails). Each array knows the
/// memory it owns, so a growth that fails half way through a graph's arrays
/// leaves every one of them valid and releasable.
///
/// Small arrays live in malloc'ed memory; from one huge page up they are
/// mappings (`PageMapper`), grown with mremap (page tables move, data is
/// not copied). Not a copyable value in spirit: the owner calls `release`
/// exactly once.
public struct BuildArray<T: BitwiseCopyable> {
    /// The elements; valid for `capacity` of them (none while empty).
    public private(set) var base: UnsafeMutablePointer<T>
    /// Elements the memory holds.
    public private(set) var capacity = 0
    private var bytes = 0
    private var mapped = false

    public init() {
        // Never read while capacity is 0; any aligned non-null address will do.
        base = UnsafeMutablePointer<T>(bitPattern: MemoryLayout<T>.alignment).unsafelyUnwrapped
    }

    /// Room for `newCapacity` elements, keeping the first `used`.
    public mutating func grow(to newCapacity: Int, used: Int, mapper: PageMapper) throws(GraphFailure) {
        guard newCapacity > capacity else { return }
        let (newBytes, overflow) = newCapacity.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !overflow else { throw .outOfMemory(bytes: .max) }
        let fresh: UnsafeMutableRawPointer
        if mapped {
            guard let p = mapper.remap(UnsafeMutableRawPointer(base), bytes, newBytes) else {
                throw .outOfMemory(bytes: newBytes)
            }
            fresh = p
        } else {
            let p = newBytes >= HugePages.threshold ? mapper.map(newBytes) : malloc(newBytes)
            guard let p else { throw .outOfMemory(bytes: newBytes) }
            if bytes > 0 {
                p.copyMemory(from: base, byteCount: min(used, capacity) * MemoryLayout<T>.stride)
                free(base)
            }
            fresh = p
            mapped = newBytes >= HugePages.threshold
        }
        base = fresh.bindMemory(to: T.self, capacity: newCapacity)
        bytes = newBytes
        capacity = newCapacity
    }

    /// Gives the memory back; the array is empty after.
    public mutating func release() {
        if mapped { munmap(base, bytes) } else if bytes > 0 { free(base) }
        self = BuildArray()
    }

    @inline(__always)
    public subscript(index: Int) -> T {
        get { base[index] }
        nonmutating set { base[index] = newValue }
    }
}
