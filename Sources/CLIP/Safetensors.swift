import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Element types a safetensors file may declare for the tensors CLIP reads.
public enum TensorDType: String, Sendable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        }
    }
}

/// Everything that can go wrong while reading model files. Each case names the
/// file or tensor so a user can tell which download is broken.
public enum CLIPLoadError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(String)
    case cannotOpen(String, String)
    case fileTooSmall(String, Int)
    case badHeaderLength(String, UInt64, Int)
    case badHeaderJSON(String, String)
    case badTensorEntry(file: String, tensor: String, reason: String)
    case unsupportedDType(file: String, tensor: String, dtype: String)
    case tensorOutOfBounds(file: String, tensor: String, end: Int, dataSize: Int)
    case missingTensor(String)
    case wrongShape(tensor: String, expected: [Int], found: [Int])
    case badConfig(String, String)
    case badVocabulary(String, String)

    public var description: String {
        switch self {
        case .fileNotFound(let path): return "file not found: \(path)"
        case .cannotOpen(let path, let why): return "cannot open \(path): \(why)"
        case .fileTooSmall(let path, let size):
            return "\(path): \(size) bytes is too small for a safetensors file (truncated?)"
        case .badHeaderLength(let path, let length, let size):
            return "\(path): header length \(length) does not fit in the file of \(size) bytes (truncated or not safetensors)"
        case .badHeaderJSON(let path, let why): return "\(path): header is not valid JSON: \(why)"
        case .badTensorEntry(let file, let tensor, let reason):
            return "\(file): tensor '\(tensor)': \(reason)"
        case .unsupportedDType(let file, let tensor, let dtype):
            return "\(file): tensor '\(tensor)' has unsupported dtype '\(dtype)' (supported: F32, F16, BF16)"
        case .tensorOutOfBounds(let file, let tensor, let end, let size):
            return "\(file): tensor '\(tensor)' ends at byte \(end) of the data section but the file has only \(size) data bytes (truncated file)"
        case .missingTensor(let name): return "missing tensor '\(name)'"
        case .wrongShape(let name, let expected, let found):
            return "tensor '\(name)' has shape \(found), expected \(expected)"
        case .badConfig(let path, let why): return "\(path): \(why)"
        case .badVocabulary(let path, let why): return "\(path): \(why)"
        }
    }
}

/// A read-only memory mapping of a whole file; unmapped when released.
final class MappedFile: @unchecked Sendable {
    let base: UnsafeRawPointer
    let size: Int

    init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            if errno == ENOENT { throw CLIPLoadError.fileNotFound(path) }
            throw CLIPLoadError.cannotOpen(path, String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw CLIPLoadError.cannotOpen(path, String(cString: strerror(errno)))
        }
        size = Int(st.st_size)
        if size == 0 {
            // mmap of zero bytes fails; an empty file is reported by the caller as too small.
            base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 8))
            isMapped = false
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw CLIPLoadError.cannotOpen(path, String(cString: strerror(errno)))
        }
        base = UnsafeRawPointer(p)
        isMapped = true
    }

    private let isMapped: Bool

    deinit {
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), size)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }
}

/// Where one tensor lives inside a safetensors file.
public struct TensorInfo: Sendable, Equatable {
    public var dtype: TensorDType
    public var shape: [Int]
    /// Byte offset from the start of the data section.
    public var offset: Int
    public var byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped safetensors file: an 8-byte little-endian header length, a
/// JSON header describing each tensor, then the raw little-endian tensor bytes.
///
/// The header is validated completely on open (dtype, shape, offsets inside the
/// file), so a truncated download fails here, naming the first tensor that
/// does not fit, instead of crashing later.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [String: TensorInfo]
    private let file: MappedFile
    private let dataStart: Int

    public init(path: String) throws {
        self.path = path
        let file = try MappedFile(path: path)
        self.file = file
        guard file.size >= 8 else { throw CLIPLoadError.fileTooSmall(path, file.size) }
        let headerLength = UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(file.size - 8) else {
            throw CLIPLoadError.badHeaderLength(path, headerLength, file.size)
        }
        dataStart = 8 + Int(headerLength)
        let headerData = Data(bytes: file.base + 8, count: Int(headerLength))
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw CLIPLoadError.badHeaderJSON(path, "\(error)")
        }
        guard let object = json as? [String: Any] else {
            throw CLIPLoadError.badHeaderJSON(path, "top level is not an object")
        }
        let dataSize = file.size - dataStart
        var parsed: [String: TensorInfo] = [:]
        // Sorted so that the error for a truncated file names the same tensor every time.
        for name in object.keys.sorted() where name != "__metadata__" {
            parsed[name] = try Self.parseEntry(object[name]!, name: name, path: path, dataSize: dataSize)
        }
        tensors = parsed
    }

    private static func parseEntry(_ value: Any, name: String, path: String, dataSize: Int) throws -> TensorInfo {
        func bad(_ reason: String) -> CLIPLoadError { .badTensorEntry(file: path, tensor: name, reason: reason) }
        guard let entry = value as? [String: Any] else { throw bad("entry is not an object") }
        guard let dtypeName = entry["dtype"] as? String else { throw bad("no dtype") }
        guard let dtype = TensorDType(rawValue: dtypeName) else {
            throw CLIPLoadError.unsupportedDType(file: path, tensor: name, dtype: dtypeName)
        }
        guard let shapeValues = entry["shape"] as? [Any] else { throw bad("no shape") }
        var shape: [Int] = []
        for v in shapeValues {
            guard let n = v as? Int, n >= 0 else { throw bad("shape \(shapeValues) is not a list of non-negative integers") }
            shape.append(n)
        }
        guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2,
              let begin = offsets[0] as? Int, let end = offsets[1] as? Int, begin >= 0, end >= begin
        else { throw bad("data_offsets is not [begin, end]") }
        let (elements, overflow) = shape.reduce((1, false)) { acc, n in
            let (p, o) = acc.0.multipliedReportingOverflow(by: n)
            return (p, acc.1 || o)
        }
        guard !overflow, elements.multipliedReportingOverflow(by: dtype.size).overflow == false,
              elements * dtype.size == end - begin
        else { throw bad("shape \(shape) of \(dtypeName) needs a different byte count than data_offsets [\(begin), \(end)]") }
        guard end <= dataSize else {
            throw CLIPLoadError.tensorOutOfBounds(file: path, tensor: name, end: end, dataSize: dataSize)
        }
        return TensorInfo(dtype: dtype, shape: shape, offset: begin, byteCount: end - begin)
    }

    /// The raw bytes of a tensor, pointing into the mapping (valid while `self` lives).
    public func rawBytes(_ info: TensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: file.base + dataStart + info.offset, count: info.byteCount)
    }

    /// Looks a tensor up and checks its shape.
    public func info(_ name: String, shape expected: [Int]) throws -> TensorInfo {
        guard let info = tensors[name] else { throw CLIPLoadError.missingTensor(name) }
        guard info.shape == expected else {
            throw CLIPLoadError.wrongShape(tensor: name, expected: expected, found: info.shape)
        }
        return info
    }

    /// A tensor converted to f32, after checking that it exists and has the expected shape.
    public func floats(_ name: String, shape expected: [Int]) throws -> [Float] {
        let info = try info(name, shape: expected)
        return Self.convertToFloat(rawBytes(info), dtype: info.dtype, count: info.elementCount)
    }

    /// Decodes little-endian f32/f16/bf16 bytes to f32. The bytes are copied
    /// element by element because a mapping offset need not be aligned.
    static func convertToFloat(_ bytes: UnsafeRawBufferPointer, dtype: TensorDType, count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch dtype {
            case .f32:
                if count > 0 {
                    UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: bytes.baseAddress!, byteCount: count * 4)
                }
                #if _endian(big)
                for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: out[i].bitPattern)) }
                #endif
            case .f16:
                for i in 0..<count {
                    let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    out[i] = Float(Float16(bitPattern: bits))
                }
            case .bf16:
                for i in 0..<count {
                    let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    out[i] = Float(bitPattern: UInt32(bits) << 16)
                }
            }
            initialized = count
        }
    }
}

/// A read-only f32 tensor. F32 data that is suitably aligned is used straight
/// from the memory mapping (no copy, pages loaded on demand); f16/bf16 data is
/// converted once into an owned buffer.
public struct Weight: @unchecked Sendable {
    public let shape: [Int]
    public let pointer: UnsafePointer<Float>
    /// Keeps the mapping or the converted buffer alive.
    private let owner: AnyObject

    public var count: Int { shape.reduce(1, *) }

    init(shape: [Int], pointer: UnsafePointer<Float>, owner: AnyObject) {
        self.shape = shape
        self.pointer = pointer
        self.owner = owner
    }

    /// Wraps an array (for tests and for computed tensors).
    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count)
        let storage = OwnedFloats(values)
        self.init(shape: shape, pointer: UnsafePointer(storage.pointer), owner: storage)
    }

    /// Only valid while this value (and so its owner) is alive; prefer `values`.
    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: pointer, count: count) }

    /// A copy of the elements.
    public var values: [Float] { withExtendedLifetime(owner) { Array(buffer) } }
}

/// Heap storage for converted weights.
final class OwnedFloats {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(_ values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(count, 1))
        values.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: count) }
    }
    deinit { pointer.deallocate() }
}

extension SafetensorsFile {
    /// A checked tensor as f32, zero-copy when the file already stores aligned little-endian f32.
    public func weight(_ name: String, shape expected: [Int]) throws -> Weight {
        let info = try info(name, shape: expected)
        let bytes = rawBytes(info)
        #if _endian(little)
        if info.dtype == .f32, let base = bytes.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
            return Weight(shape: expected, pointer: base.assumingMemoryBound(to: Float.self), owner: self)
        }
        #endif
        return Weight(shape: expected, values: Self.convertToFloat(bytes, dtype: info.dtype, count: info.elementCount))
    }
}

extension Weight {
    /// The same elements viewed with another shape of equal element count.
    func reshaped(_ newShape: [Int]) -> Weight {
        precondition(newShape.reduce(1, *) == count)
        return Weight(shape: newShape, pointer: pointer, owner: owner)
    }
}
