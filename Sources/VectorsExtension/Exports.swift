// The @_cdecl entry points that the C shim calls (contract:
// CShims/include/vectors_shim.h). Each is a thin adapter from C pointers to
// VectorCore; none of them calls PostgreSQL, and none can trap on any input
// the shim passes.
#if canImport(Glibc)
import Glibc
#endif
import CVectorsShim
import VectorCore

/// Copies `text` into a fixed C char array field, truncating on a UTF-8
/// boundary, always NUL-terminated.
func copyCString<T>(_ text: String, into field: UnsafeMutablePointer<T>) {
    let capacity = MemoryLayout<T>.size
    field.withMemoryRebound(to: UInt8.self, capacity: capacity) { out in
        var utf8 = Array(text.utf8)
        if utf8.count >= capacity {
            var end = capacity - 1
            // Do not cut a multi-byte character in half.
            while end > 0 && (utf8[end] & 0xC0) == 0x80 { end -= 1 }
            utf8 = Array(utf8[..<end])
        }
        for (i, byte) in utf8.enumerated() { out[i] = byte }
        out[utf8.count] = 0
    }
}

extension VectorsError {
    mutating func set(message: String, detail: String) {
        withUnsafeMutablePointer(to: &self.message) { copyCString(message, into: $0) }
        withUnsafeMutablePointer(to: &self.detail) { copyCString(detail, into: $0) }
    }
}

@_cdecl("vectors_parse")
public func vectors_parse(
    _ text: UnsafePointer<CChar>, _ length: Int, _ elements: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>,
    _ dimensions: UnsafeMutablePointer<Int32>, _ error: UnsafeMutablePointer<VectorsError>
) -> VectorsStatus {
    let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), count: length)
    do {
        let parsed = try VectorText.parse(bytes)
        guard let out = malloc(parsed.count * MemoryLayout<Float>.stride)?.assumingMemoryBound(to: Float.self) else {
            error.pointee.set(message: "out of memory", detail: "Parsing a vector of \(parsed.count) dimensions.")
            return VECTORS_ERROR_OUT_OF_MEMORY
        }
        parsed.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: parsed.count) }
        elements.pointee = out
        dimensions.pointee = Int32(parsed.count)
        return VECTORS_OK
    } catch let failure {
        error.pointee.set(message: failure.message, detail: failure.detail)
        return failure.kind == .syntax ? VECTORS_ERROR_SYNTAX : VECTORS_ERROR_OUT_OF_RANGE
    }
}

@_cdecl("vectors_free")
public func vectors_free(_ pointer: UnsafeMutableRawPointer?) {
    free(pointer)
}

@_cdecl("vectors_format_capacity")
public func vectors_format_capacity(_ dimensions: Int32) -> Int {
    VectorFormat.capacity(forCount: Int(dimensions))
}

@_cdecl("vectors_format")
public func vectors_format(_ elements: UnsafePointer<Float>, _ dimensions: Int32, _ buffer: UnsafeMutablePointer<CChar>) -> Int {
    let text = VectorFormat.bytes(UnsafeBufferPointer(start: elements, count: Int(dimensions)))
    // capacity(forCount:) bounds the text (VectorFormat.maxBytesPerElement);
    // were it ever wrong, the text is cut rather than the buffer overrun or
    // the backend stopped.
    let length = min(text.count, VectorFormat.capacity(forCount: Int(dimensions)) - 1)
    text.withUnsafeBytes { raw in
        UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress!, byteCount: length)
    }
    buffer[length] = 0
    return length
}

@_cdecl("vectors_l2_squared")
public func vectors_l2_squared(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int32) -> Float {
    VectorMath.l2Squared(a, b, count: Int(n))
}

@_cdecl("vectors_dot")
public func vectors_dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int32) -> Float {
    VectorMath.dot(a, b, count: Int(n))
}

@_cdecl("vectors_cosine_distance")
public func vectors_cosine_distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int32) -> Float {
    VectorMath.cosineDistance(a, b, count: Int(n))
}

@_cdecl("vectors_norm")
public func vectors_norm(_ a: UnsafePointer<Float>, _ n: Int32) -> Double {
    VectorMath.norm(a, count: Int(n))
}

@_cdecl("vectors_normalize")
public func vectors_normalize(_ a: UnsafePointer<Float>, _ n: Int32, _ result: UnsafeMutablePointer<Float>) {
    VectorMath.normalize(a, count: Int(n), into: result)
}

@_cdecl("vectors_elementwise")
public func vectors_elementwise(
    _ operation: VectorsElementwise, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int32,
    _ result: UnsafeMutablePointer<Float>
) -> Bool {
    let op: VectorMath.ElementwiseOperation
    switch operation {
    case VECTORS_ADD: op = .add
    case VECTORS_SUBTRACT: op = .subtract
    default: op = .multiply
    }
    return VectorMath.elementwise(op, a, b, count: Int(n), into: result)
}

@_cdecl("vectors_accumulate")
public func vectors_accumulate(_ state: UnsafeMutablePointer<Double>, _ a: UnsafePointer<Float>, _ n: Int32) {
    VectorMath.accumulate(a, count: Int(n), into: state)
}

@_cdecl("vectors_compare")
public func vectors_compare(_ a: UnsafePointer<Float>, _ na: Int32, _ b: UnsafePointer<Float>, _ nb: Int32) -> Int32 {
    VectorMath.compare(a, count: Int(na), b, count: Int(nb))
}

@_cdecl("vectors_hash")
public func vectors_hash(_ a: UnsafePointer<Float>, _ n: Int32, _ seed: UInt64) -> UInt64 {
    VectorMath.hash(a, count: Int(n), seed: seed)
}

@_cdecl("vectors_kernel_name")
public func vectors_kernel_name() -> UnsafePointer<CChar> {
    // A StaticString's bytes are NUL-terminated and live for the whole process.
    UnsafeRawPointer(DistanceKernels.best.name.utf8Start).assumingMemoryBound(to: CChar.self)
}
