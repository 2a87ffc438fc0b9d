import Foundation
import Testing
@testable import CLIP

/// Runs the built `imgsearch` binary (swift test builds it next to the test bundle).
@Suite struct CommandLineTests {
    static let executable = Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("imgsearch")

    /// model_a with the shared vocabulary, as a self-contained model directory.
    static func modelDirectory() throws -> URL {
        let dir = try Fixtures.temporaryDirectory()
        for f in ["model_a/config.json", "model_a/model.safetensors", "model_a/preprocessor_config.json", "vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(at: Fixtures.url(f), to: dir.appendingPathComponent((f as NSString).lastPathComponent))
        }
        return dir
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: executable.path)))
    func embedPrintsJSONLinesAndReportsBadFiles() throws {
        let model = try Self.modelDirectory()
        defer { try? FileManager.default.removeItem(at: model) }
        let good = Fixtures.url("decode/baseline.jpg").path, bad = Fixtures.url("decode/bad_truncated.png").path

        let ok = try Self.run(["embed", "--model", model.path, "--text", "a photo of a cat", good])
        #expect(ok.status == 0, "\(ok.stderr)")
        let lines = ok.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        let text = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        #expect(text["kind"] as? String == "text" && text["input"] as? String == "a photo of a cat")
        let vector = (text["embedding"] as! [NSNumber]).map(\.floatValue)
        let clip = try CLIPModel(directory: model)
        ModelTests.expectClose(vector, try clip.embed(texts: ["a photo of a cat"])[0], "cli text")

        let failed = try Self.run(["embed", "--format", "vector", good, bad], environment: [CLIPModel.modelDirectoryVariable: model.path])
        #expect(failed.status == 1)
        #expect(failed.stdout.hasPrefix("[") && failed.stdout.split(separator: "\n").count == 1)
        #expect(failed.stderr.contains("\(bad): invalid PNG: truncated PNG"))

        let keepGoing = try Self.run(["embed", "--model", model.path, "--keep-going", bad, good])
        #expect(keepGoing.status == 0 && keepGoing.stdout.split(separator: "\n").count == 1)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: executable.path)))
    func textCleaningOption() throws {
        let model = try Self.modelDirectory()
        defer { try? FileManager.default.removeItem(at: model) }
        let plain = try Self.run(["embed", "--model", model.path, "--format", "vector", "--text", "fish & chips"])
        let openai = try Self.run(["embed", "--model", model.path, "--format", "vector", "--text-cleaning", "openai", "--text", "fish &amp;amp; chips"])
        let fast = try Self.run(["embed", "--model", model.path, "--format", "vector", "--text", "fish &amp;amp; chips"])
        #expect(plain.status == 0 && openai.status == 0 && fast.status == 0, "\(openai.stderr)")
        #expect(openai.stdout == plain.stdout)
        #expect(fast.stdout != plain.stdout)
        let bad = try Self.run(["embed", "--model", model.path, "--text-cleaning", "ftfy", "--text", "x"])
        #expect(bad.status == 64 && bad.stderr.contains("huggingface"), "\(bad.stderr)")
    }
}
