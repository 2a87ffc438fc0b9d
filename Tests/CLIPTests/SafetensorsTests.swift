import Foundation
import Testing
@testable import CLIP

@Suite struct SafetensorsTests {
    @Test func decodesF32F16BF16() throws {
        let file = try SafetensorsFile(path: Fixtures.url("dtypes.safetensors").path)
        let want = try Fixtures.json("dtypes.json") as! [String: [NSNumber]]
        for (name, dtype) in [("as_f32", TensorDType.f32), ("as_f16", .f16), ("as_bf16", .bf16)] {
            #expect(file.tensors[name]?.dtype == dtype)
            let got = try file.floats(name, shape: [2, 4])
            #expect(got == want[name]!.map(\.floatValue), "\(name)")
            #expect(try file.weight(name, shape: [2, 4]).values == got)
        }
    }

    /// Writes a safetensors file from a header object and a data blob.
    static func write(_ header: [String: Any], data: [UInt8], to url: URL, rawHeader: String? = nil) throws {
        let json = try rawHeader.map { Data($0.utf8) } ?? JSONSerialization.data(withJSONObject: header)
        var bytes = withUnsafeBytes(of: UInt64(json.count).littleEndian) { [UInt8]($0) }
        bytes += json
        bytes += data
        try Data(bytes).write(to: url)
    }

    static func error(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }

    @Test func badFilesGiveClearErrors() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.safetensors")
        let entry: [String: Any] = ["dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]]

        try Self.write(["w": ["dtype": "F64", "shape": [2], "data_offsets": [0, 16]]], data: Array(repeating: 0, count: 16), to: url)
        #expect(Self.error { _ = try SafetensorsFile(path: url.path) }.contains("tensor 'w' has unsupported dtype 'F64'"))

        try Self.write([:], data: [], to: url, rawHeader: "{\"w\": [1, 2")
        #expect(Self.error { _ = try SafetensorsFile(path: url.path) }.contains("header is not valid JSON"))

        try Self.write(["w": entry], data: Array(repeating: 0, count: 10), to: url)
        #expect(Self.error { _ = try SafetensorsFile(path: url.path) }.contains("tensor 'w' ends at byte 16 of the data section but the file has only 10 data bytes"))

        try Self.write(["w": ["dtype": "F32", "shape": [3, 2], "data_offsets": [0, 16]]], data: Array(repeating: 0, count: 16), to: url)
        #expect(Self.error { _ = try SafetensorsFile(path: url.path) }.contains("tensor 'w'"))

        try Data([1, 2, 3]).write(to: url)
        #expect(Self.error { _ = try SafetensorsFile(path: url.path) }.contains("too small"))

        try Data(Array(repeating: 0xFF, count: 20)).write(to: url)
        #expect(Self.error { _ = try SafetensorsFile(path: url.path) }.contains("header length"))

        #expect(Self.error { _ = try SafetensorsFile(path: dir.appendingPathComponent("none").path) }.contains("file not found"))

        try Self.write(["w": entry], data: Array(repeating: 0, count: 16), to: url)
        let ok = try SafetensorsFile(path: url.path)
        #expect(Self.error { _ = try ok.floats("v", shape: [2, 2]) } == "missing tensor 'v'")
        #expect(Self.error { _ = try ok.floats("w", shape: [4]) } == "tensor 'w' has shape [2, 2], expected [4]")
    }

    /// Copies model_a with one change to its safetensors header and returns the load error.
    static func loadError(editing edit: (inout [String: Any]) -> Void, truncateTo: Int? = nil) throws -> String {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        for f in ["config.json", "preprocessor_config.json"] {
            try fm.copyItem(at: Fixtures.url("model_a/\(f)"), to: dir.appendingPathComponent(f))
        }
        for f in ["vocab.json", "merges.txt"] { try fm.copyItem(at: Fixtures.url(f), to: dir.appendingPathComponent(f)) }
        var bytes = [UInt8](try Data(contentsOf: Fixtures.url("model_a/model.safetensors")))
        let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        var header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as! [String: Any]
        edit(&header)
        let data = Array(bytes[(8 + n)...])
        bytes = []
        try write(header, data: truncateTo.map { Array(data.prefix($0)) } ?? data, to: dir.appendingPathComponent("model.safetensors"))
        return error { _ = try CLIPModel(directory: dir) }
    }

    @Test func modelLoadNamesTheBadTensor() throws {
        let missing = try Self.loadError { $0["text_model.encoder.layers.2.mlp.fc1.bias"] = nil }
        #expect(missing == "missing tensor 'text_model.encoder.layers.2.mlp.fc1.bias'")

        let wrongShape = try Self.loadError { h in
            var e = h["visual_projection.weight"] as! [String: Any]
            e["shape"] = [32, 24]  // transposed
            h["visual_projection.weight"] = e
        }
        #expect(wrongShape == "tensor 'visual_projection.weight' has shape [32, 24], expected [24, 32]")

        let truncated = try Self.loadError(editing: { _ in }, truncateTo: 1000)
        #expect(truncated.contains("truncated file"), "\(truncated)")
    }
}
