import Foundation
@testable import CLIP

/// Paths of the committed fixtures (see Fixtures/generate.py).
enum Fixtures {
    static let directory: URL = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// A JSON fixture; a name ending in .gz is decompressed first (the
    /// large tokenizer case files are stored gzipped).
    static func json(_ name: String) throws -> Any {
        let data = name.hasSuffix(".gz") ? try Gzip.decompressFile(at: url(name).path) : try Data(contentsOf: url(name))
        return try JSONSerialization.jsonObject(with: data)
    }

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: url(name))
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }

    /// A scratch directory removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clip-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}
