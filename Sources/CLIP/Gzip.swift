import Foundation
import CZlib

/// Reads gzip files through zlib (OpenAI ships its vocabulary gzipped).
enum Gzip {
    /// Upper bound on the decompressed size; the real vocabulary is 1.3 MB.
    static let maxOutput = 64 << 20

    static func decompressFile(at path: String) throws -> Data {
        guard FileManager.default.fileExists(atPath: path) else { throw CLIPLoadError.fileNotFound(path) }
        guard let file = gzopen(path, "rb") else { throw CLIPLoadError.cannotOpen(path, "gzopen failed") }
        defer { gzclose(file) }
        var out = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 {
                var code: Int32 = 0
                let message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown error"
                throw CLIPLoadError.badVocabulary(path, "gzip: \(message)")
            }
            if n == 0 {
                // A truncated stream ends "normally" with a pending error.
                var code: Int32 = 0
                let message = gzerror(file, &code).map { String(cString: $0) } ?? ""
                if code != Z_OK && code != Z_STREAM_END {
                    throw CLIPLoadError.badVocabulary(path, "gzip: \(message) (truncated?)")
                }
                break
            }
            out.append(contentsOf: chunk[0..<Int(n)])
            if out.count > maxOutput { throw CLIPLoadError.badVocabulary(path, "decompresses to more than \(maxOutput) bytes") }
        }
        return out
    }
}
