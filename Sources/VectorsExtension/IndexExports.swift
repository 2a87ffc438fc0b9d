// @_cdecl entry points of the HNSW index (contract: CShims/include/vectors_shim.h).
#if canImport(Glibc)
import Glibc
#endif
import CVectorsShim
import HNSW
import VectorCore

extension VectorsIndexInfo {
    var parameters: HNSWParameters { HNSWParameters(m: Int(m), efConstruction: Int(ef_construction)) }
    var swiftMetric: Metric { Metric(rawValue: UInt8(metric))! }
}

/// Maps a Swift failure to the status the C caller expects.
func status(of error: any Error, _ out: UnsafeMutablePointer<VectorsError>) -> VectorsStatus {
    if let failure = error as? ShimFailure { return failure.status }
    out.pointee.set(message: "vectors: unexpected failure in the graph code: \(error)", detail: "")
    return VECTORS_ERROR_OUT_OF_RANGE
}

@_cdecl("vectors_prepare")
public func vectors_prepare(_ metric: Int32, _ vector: UnsafePointer<Float>, _ dimensions: Int32, _ out: UnsafeMutablePointer<Float>) -> Bool {
    Metric(rawValue: UInt8(metric))!.prepare(vector, count: Int(dimensions), into: out)
}

/// Distance functions per metric, looked up once.
private let distanceFunctions = Metric.allCases.map(\.function)

@_cdecl("vectors_distance")
public func vectors_distance(_ metric: Int32, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dimensions: Int32) -> Float {
    distanceFunctions[Int(metric)](a, b, Int(dimensions))
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
    _ failure: UnsafeMutablePointer<VectorsError>
) -> VectorsStatus {
    do {
        let options = try IndexOptionsText.parse(String(cString: text))
        if let value = options.m { m.pointee = Int32(value) }
        if let value = options.efConstruction { efConstruction.pointee = Int32(value) }
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
    let graph = PageGraph(handle: handle, info: info.pointee)
    do {
        let prepared = Array(UnsafeBufferPointer(start: vector, count: Int(info.pointee.dimensions)))
        try graph.insert(node, vector: prepared, level: Int(level), parameters: info.pointee.parameters)
        return VECTORS_OK
    } catch {
        return status(of: error, failure)
    }
}

/// A scan's search, kept between amgettuple calls.
final class ScanStream {
    let graph: PageGraph
    let stream: SearchStream<PageGraph>

    init(graph: PageGraph, stream: SearchStream<PageGraph>) {
        self.graph = graph
        self.stream = stream
    }
}

@_cdecl("vectors_stream_new")
public func vectors_stream_new(
    _ handle: OpaquePointer, _ info: UnsafePointer<VectorsIndexInfo>, _ query: UnsafePointer<Float>, _ ef: Int32,
    _ continues: Bool, _ memoryLimit: Int
) -> OpaquePointer {
    let graph = PageGraph(handle: handle, info: info.pointee)
    graph.recordHeapTIDs = true
    let q = Array(UnsafeBufferPointer(start: query, count: Int(info.pointee.dimensions)))
    let stream = SearchStream(graph: graph, query: q, ef: Int(ef), continues: continues, memoryLimit: memoryLimit)
    stream.storageMemory = { [unowned graph] in graph.heapTIDMemory }
    return OpaquePointer(Unmanaged.passRetained(ScanStream(graph: graph, stream: stream)).toOpaque())
}

@_cdecl("vectors_stream_next")
public func vectors_stream_next(
    _ pointer: OpaquePointer, _ heapTID: UnsafeMutablePointer<UInt64>, _ distance: UnsafeMutablePointer<Float>,
    _ found: UnsafeMutablePointer<Bool>, _ failure: UnsafeMutablePointer<VectorsError>
) -> VectorsStatus {
    let scan = Unmanaged<ScanStream>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
    do {
        guard let next = try scan.stream.next() else {
            found.pointee = false
            return VECTORS_OK
        }
        found.pointee = true
        heapTID.pointee = scan.graph.heapTIDs[next.node]!
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
    let graph = PageGraph(handle: handle, info: info.pointee)
    do {
        changed.pointee = try graph.repairNeighbors(
            of: node, parameters: info.pointee.parameters, isDeleted: { isDeleted(context, $0) })
        return VECTORS_OK
    } catch {
        return status(of: error, failure)
    }
}

// ---- in-memory build ------------------------------------------------------

/// A graph being built in memory, with the heap TID of every node.
final class GraphBuilder {
    let graph: MemoryGraph
    var heapTIDs: [UInt64] = []
    var linked = 0
    var rng = SystemRandomNumberGenerator()

    init(info: VectorsIndexInfo) {
        graph = MemoryGraph(dimensions: Int(info.dimensions), metric: info.swiftMetric, parameters: info.parameters)
    }
}

struct Interrupted: Error {}

@_cdecl("vectors_build_new")
public func vectors_build_new(_ info: UnsafePointer<VectorsIndexInfo>) -> OpaquePointer {
    OpaquePointer(Unmanaged.passRetained(GraphBuilder(info: info.pointee)).toOpaque())
}

func builder(_ pointer: OpaquePointer) -> GraphBuilder {
    Unmanaged<GraphBuilder>.fromOpaque(UnsafeRawPointer(pointer)).takeUnretainedValue()
}

@_cdecl("vectors_build_free")
public func vectors_build_free(_ pointer: OpaquePointer) {
    Unmanaged<GraphBuilder>.fromOpaque(UnsafeRawPointer(pointer)).release()
}

@_cdecl("vectors_build_add")
public func vectors_build_add(_ pointer: OpaquePointer, _ vector: UnsafePointer<Float>, _ heapTID: UInt64) -> Bool {
    let b = builder(pointer)
    let level = b.graph.parameters.level(forUniform: Double.random(in: 0..<1, using: &b.rng).nextUp)
    b.graph.append(UnsafeBufferPointer(start: vector, count: b.graph.dimensions), level: level)
    b.heapTIDs.append(heapTID)
    return true
}

@_cdecl("vectors_build_link")
public func vectors_build_link(
    _ pointer: OpaquePointer, _ threads: Int32, _ interrupted: @convention(c) () -> Bool,
    _ failure: UnsafeMutablePointer<VectorsError>
) -> VectorsStatus {
    let b = builder(pointer)
    b.linked = b.graph.linkAll(from: b.linked, threads: max(1, Int(threads)), shouldStop: { interrupted() })
    if b.linked < b.graph.count { return VECTORS_INTERRUPTED }
    do {
        try b.graph.reconnectUnreachable()
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
    let graph = PageGraph(handle: handle, info: info.pointee)
    do {
        _ = try graph.reconnect(node, parameters: info.pointee.parameters)
        return VECTORS_OK
    } catch {
        return status(of: error, failure)
    }
}

@_cdecl("vectors_build_memory")
public func vectors_build_memory(_ pointer: OpaquePointer) -> Int {
    let b = builder(pointer)
    return b.graph.memoryUsage + b.heapTIDs.count * 8
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
    let list = builder(pointer).graph.neighbors(of: Int32(node), level: Int(level))
    for (i, n) in list.enumerated() { out[i] = Int64(n) }
    return Int32(list.count)
}

@_cdecl("vectors_build_entry")
public func vectors_build_entry(_ pointer: OpaquePointer, _ level: UnsafeMutablePointer<Int32>) -> Int64 {
    guard let entry = builder(pointer).graph.entryPoint() else { return -1 }
    level.pointee = Int32(entry.level)
    return Int64(entry.node)
}
