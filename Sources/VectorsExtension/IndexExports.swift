// @_cdecl entry points of the HNSW index (contract: CShims/include/vectors_shim.h).
#if canImport(Glibc)
import Glibc
#endif
import CVectorsShim
import HNSW
import VectorCore

/// The metric a C VectorsMetric value names, or nil for any other value.
/// The shim checks every metric it reads (the operator class decides it,
/// the metapage must agree), so nil means a bug; Swift reports it rather
/// than trapping.
func knownMetric(_ value: Int32) -> Metric? {
    guard let byte = UInt8(exactly: value) else { return nil }
    return Metric(rawValue: byte)
}

extension VectorsIndexInfo {
    var parameters: HNSWParameters { HNSWParameters(m: Int(m), efConstruction: Int(ef_construction)) }

    /// The index's metric; an unknown value is a failure, not a trap.
    func swiftMetric() throws(GraphFailure) -> Metric {
        guard let known = knownMetric(self.metric) else {
            throw .invalidArgument("unknown distance metric \(self.metric)")
        }
        return known
    }
}

/// Maps a Swift failure to the status the C caller expects: the shim's own
/// (its saved PostgreSQL error), out of memory (53200, with the size), or
/// an internal error (XX000) for anything else; never a data error.
func status(of error: any Error, _ out: UnsafeMutablePointer<VectorsError>) -> VectorsStatus {
    switch error {
    case let failure as ShimFailure:
        return failure.status
    case GraphFailure.outOfMemory(let bytes):
        let size = bytes == .max ? "a size that overflows" : "\(bytes) bytes"
        out.pointee.set(
            message: "out of memory: the in-memory graph of the index build could not get \(size)",
            detail: "The build graph grows by doubling while it fits in maintenance_work_mem; "
                + "with less maintenance_work_mem the build writes it out sooner and inserts the remaining rows on disk.")
        return VECTORS_ERROR_OUT_OF_MEMORY
    case GraphFailure.invalidArgument(let what):
        out.pointee.set(message: "vectors: internal error in the graph code: \(what)", detail: "")
        return VECTORS_ERROR_INTERNAL
    default:
        out.pointee.set(message: "vectors: unexpected failure in the graph code: \(error)", detail: "")
        return VECTORS_ERROR_INTERNAL
    }
}

/// Also false for a metric outside VectorsMetric (never passed: see `knownMetric(_:)`).
@_cdecl("vectors_prepare")
public func vectors_prepare(_ metric: Int32, _ vector: UnsafePointer<Float>, _ dimensions: Int32, _ out: UnsafeMutablePointer<Float>) -> Bool {
    guard let known = knownMetric(metric) else { return false }
    return known.prepare(vector, count: Int(dimensions), into: out)
}

/// Distance functions per metric, looked up once.
private let distanceFunctions = Metric.allCases.map(\.function)

/// NaN for a metric outside VectorsMetric (never passed: see `knownMetric(_:)`).
@_cdecl("vectors_distance")
public func vectors_distance(_ metric: Int32, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dimensions: Int32) -> Float {
    guard distanceFunctions.indices.contains(Int(metric)) else { return .nan }
    return distanceFunctions[Int(metric)](a, b, Int(dimensions))
}

@_cdecl("vectors_random_level")
public func vectors_random_level(_ m: Int32) -> Int32 {
    var rng = SystemRandomNumberGenerator()
    let u = Double.random(in: 0..<1, using: &rng).nextUp
    return Int32(HNSWParameters(m: Int(m), efConstruction: 1).level(forUniform: u))
}

@_cdecl("vectors_parse_index_options")
public func vectors_parse_index_options(
    _ text: UnsafePointer<CChar>, _ m: UnsafeMutablePointer<Int32>, _ efConstruction: UnsafeMutablePointer<Int32>,
    _ buildThreads: UnsafeMutablePointer<Int32>, _ failure: UnsafeMutablePointer<VectorsError>
) -> VectorsStatus {
    do {
        let options = try IndexOptionsText.parse(String(cString: text))
        if let value = options.m { m.pointee = Int32(value) }
        if let value = options.efConstruction { efConstruction.pointee = Int32(value) }
        if let value = options.buildThreads { buildThreads.pointee = Int32(value) }
        return VECTORS_OK
    } catch {
        failure.pointee.set(message: error.message, detail: error.detail)
        return VECTORS_ERROR_SYNTAX
    }
}

@_cdecl("vectors_hnsw_insert")
public func vectors_hnsw_insert(
    _ handle: OpaquePointer, _ info: UnsafePointer<VectorsIndexInfo>, _ node: UInt64, _ vector: UnsafePointer<Float>,
    _ level: Int32, _ failure: UnsafeMutablePointer<VectorsError>
) -> VectorsStatus {
    do {
        let graph = try PageGraph(handle: handle, info: info.pointee)
        let prepared = Array(UnsafeBufferPointer(start: vector, count: Int(info.pointee.dimensions)))
        try graph.insert(node, vector: prepared, level: Int(level), parameters: info.pointee.parameters)
        return VECTORS_OK
    } catch {
        return status(of: error, failure)
    }
}

/// A scan's search, kept between amgettuple calls; or, when the search
/// could not be set up, why (vectors_stream_new has no status: the first
/// vectors_stream_next reports it).
final class ScanStream {
    let search: Result<(graph: PageGraph, stream: SearchStream<PageGraph>), GraphFailure>

    init(_ search: Result<(graph: PageGraph, stream: SearchStream<PageGraph>), GraphFailure>) {
        self.search = search
    }
}

@_cdecl("vectors_stream_new")
public func vectors_stream_new(
    _ handle: OpaquePointer, _ info: UnsafePointer<VectorsIndexInfo>, _ query: UnsafePointer<Float>, _ ef: Int32,
    _ continues: Bool, _ memoryLimit: Int
) -> OpaquePointer {
    let search = Result { () throws(GraphFailure) in
        let graph = try PageGraph(handle: handle, info: info.pointee)
        graph.recordHeapTIDs = true
        let q = Array(UnsafeBufferPointer(start: query, count: Int(info.pointee.dimensions)))
        let stream = SearchStream(graph: graph, query: q, ef: Int(ef), continues: continues, memoryLimit: memoryLimit)
        stream.storageMemory = { [unowned graph] in graph.heapTIDMemory }
        return (graph: graph, stream: stream)
    }
    return OpaquePointer(Unmanaged.passRetained(ScanStream(search)).toOpaque())
}

@_cdecl("vectors_stream_next")
public func vectors_stream_next(
    _ pointer: OpaquePointer, _ heapTID: UnsafeMutablePointer<UInt64>, _ distance: UnsafeMutablePointer<Float>,
    _ found: UnsafeMutablePointer<Bool>, _ failure: UnsafeMutablePointer<VectorsError>
) -> VectorsStatus {
    let scan = Unmanaged<ScanStream>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    do {
        let (graph, stream) = try scan.search.get()
        guard let next = try stream.next() else {
            found.pointee = false
            return VECTORS_OK
        }
        // A returned node was visited live, and visiting recorded its TID.
        guard let tid = graph.heapTIDs[next.node] else {
            throw GraphFailure.invalidArgument("no heap TID recorded for node \(next.node)")
        }
        found.pointee = true
        heapTID.pointee = tid
        distance.pointee = next.distance
        return VECTORS_OK
    } catch {
        return status(of: error, failure)
    }
}

@_cdecl("vectors_stream_free")
public func vectors_stream_free(_ pointer: OpaquePointer) {
    Unmanaged<ScanStream>.fromOpaque(UnsafeRawPointer(pointer)).release()
}

@_cdecl("vectors_hnsw_repair")
public func vectors_hnsw_repair(
    _ handle: OpaquePointer, _ info: UnsafePointer<VectorsIndexInfo>, _ node: UInt64,
    _ isDeleted: @convention(c) (UnsafeMutableRawPointer?, UInt64) -> Bool, _ context: UnsafeMutableRawPointer?,
    _ changed: UnsafeMutablePointer<Bool>, _ failure: UnsafeMutablePointer<VectorsError>
) -> VectorsStatus {
    do {
        let graph = try PageGraph(handle: handle, info: info.pointee)
        changed.pointee = try graph.repairNeighbors(
            of: node, parameters: info.pointee.parameters, isDeleted: { isDeleted(context, $0) })
        return VECTORS_OK
    } catch {
        return status(of: error, failure)
    }
}

// ---- in-memory build ------------------------------------------------------

/// A graph being built in memory, with the heap TID of every node (in a
/// `BuildArray` like the graph's arrays, so running out of memory is an
/// error here too).
final class GraphBuilder {
    let graph: MemoryGraph
    var heapTIDs = BuildArray<UInt64>()
    var linked = 0
    var rng = SystemRandomNumberGenerator()

    init(info: VectorsIndexInfo) throws(GraphFailure) {
        graph = MemoryGraph(dimensions: Int(info.dimensions), metric: try info.swiftMetric(), parameters: info.parameters)
    }

    deinit { heapTIDs.release() }

    /// Stores a prepared vector with a random level, unlinked.
    func add(_ vector: UnsafeBufferPointer<Float>, heapTID: UInt64) throws(GraphFailure) {
        let node = graph.count
        if node == heapTIDs.capacity {
            try heapTIDs.grow(to: max(1024, node * 2), used: node, mapper: .system)
        }
        let level = graph.parameters.level(forUniform: Double.random(in: 0..<1, using: &rng).nextUp)
        try graph.append(vector, level: level)
        heapTIDs[node] = heapTID
    }
}

@_cdecl("vectors_build_new")
public func vectors_build_new(
    _ info: UnsafePointer<VectorsIndexInfo>, _ builder: UnsafeMutablePointer<OpaquePointer?>,
    _ failure: UnsafeMutablePointer<VectorsError>
) -> VectorsStatus {
    do {
        builder.pointee = OpaquePointer(Unmanaged.passRetained(try GraphBuilder(info: info.pointee)).toOpaque())
        return VECTORS_OK
    } catch {
        return status(of: error, failure)
    }
}

func builder(_ pointer: OpaquePointer) -> GraphBuilder {
    Unmanaged<GraphBuilder>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
}

@_cdecl("vectors_build_free")
public func vectors_build_free(_ pointer: OpaquePointer) {
    Unmanaged<GraphBuilder>.fromOpaque(UnsafeRawPointer(pointer)).release()
}

@_cdecl("vectors_build_add")
public func vectors_build_add(
    _ pointer: OpaquePointer, _ vector: UnsafePointer<Float>, _ heapTID: UInt64, _ failure: UnsafeMutablePointer<VectorsError>
) -> VectorsStatus {
    let b = builder(pointer)
    do {
        try b.add(UnsafeBufferPointer(start: vector, count: b.graph.dimensions), heapTID: heapTID)
        return VECTORS_OK
    } catch {
        return status(of: error, failure)
    }
}

@_cdecl("vectors_build_link")
public func vectors_build_link(
    _ pointer: OpaquePointer, _ threads: Int32, _ interrupted: @convention(c) () -> Bool,
    _ failure: UnsafeMutablePointer<VectorsError>
) -> VectorsStatus {
    let b = builder(pointer)
    do {
        b.linked = try b.graph.linkAll(from: b.linked, threads: max(1, Int(threads)), shouldStop: { interrupted() })
        if b.linked < b.graph.count { return VECTORS_INTERRUPTED }
        try b.graph.reconnectUnreachable()
        b.graph.pinSpanningTree()
    } catch {
        return status(of: error, failure)
    }
    return VECTORS_OK
}

@_cdecl("vectors_hnsw_reconnect")
public func vectors_hnsw_reconnect(
    _ handle: OpaquePointer, _ info: UnsafePointer<VectorsIndexInfo>, _ node: UInt64,
    _ failure: UnsafeMutablePointer<VectorsError>
) -> VectorsStatus {
    do {
        let graph = try PageGraph(handle: handle, info: info.pointee)
        _ = try graph.reconnect(node, parameters: info.pointee.parameters)
        return VECTORS_OK
    } catch {
        return status(of: error, failure)
    }
}

@_cdecl("vectors_build_memory")
public func vectors_build_memory(_ pointer: OpaquePointer) -> Int {
    let b = builder(pointer)
    return b.graph.memoryUsage + b.heapTIDs.capacity * 8
}

@_cdecl("vectors_build_count")
public func vectors_build_count(_ pointer: OpaquePointer) -> Int64 { Int64(builder(pointer).graph.count) }

@_cdecl("vectors_build_level")
public func vectors_build_level(_ pointer: OpaquePointer, _ node: Int64) -> Int32 {
    Int32(builder(pointer).graph.level(of: Int32(node)))
}

@_cdecl("vectors_build_heap_tid")
public func vectors_build_heap_tid(_ pointer: OpaquePointer, _ node: Int64) -> UInt64 {
    builder(pointer).heapTIDs[Int(node)]
}

@_cdecl("vectors_build_vector")
public func vectors_build_vector(_ pointer: OpaquePointer, _ node: Int64) -> UnsafePointer<Float> {
    // Stable while no vector is appended (the C side writes pages only
    // after linking finished).
    builder(pointer).graph.withVector(of: Int32(node)) { $0 }
}

@_cdecl("vectors_build_neighbors")
public func vectors_build_neighbors(_ pointer: OpaquePointer, _ node: Int64, _ level: Int32, _ out: UnsafeMutablePointer<Int64>) -> Int32 {
    let graph = builder(pointer).graph
    let list = graph.neighbors(of: Int32(node), level: Int(level))
    for (i, n) in list.enumerated() {
        out[i] = Int64(n) | (level == 0 && graph.isPinned(n, in: Int32(node)) ? VECTORS_BUILD_PINNED : 0)
    }
    return Int32(list.count)
}

@_cdecl("vectors_build_entry")
public func vectors_build_entry(_ pointer: OpaquePointer, _ level: UnsafeMutablePointer<Int32>) -> Int64 {
    guard let entry = builder(pointer).graph.entryPoint() else { return -1 }
    level.pointee = Int32(entry.level)
    return Int64(entry.node)
}
