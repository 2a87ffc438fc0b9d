import CZlib
import Foundation
import Testing
@testable import CLIP

/// Images whose size or shape used to cost gigabytes, and decompression bombs.
/// Memory is asserted as a bound on a child process's peak RSS (`wait4`), never
/// by timing; the time is printed for information.
@Suite struct BoundedMemoryTests {
    static func chunk(_ kind: String, _ payload: [UInt8]) -> [UInt8] {
        let body = Array(kind.utf8) + payload
        let crc = body.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
        return be(UInt32(payload.count)) + body + be(crc)
    }

    /// An 8-bit RGB PNG of a smooth gradient.
    static func png(width: Int, height: Int) -> Data {
        var raw: [UInt8] = []
        raw.reserveCapacity(height * (1 + width * 3))
        for y in 0..<height {
            raw.append(0)
            for x in 0..<width { raw += [UInt8(x % 251), UInt8(y % 241), UInt8((x + y) % 239)] }
        }
        var size = compressBound(uLong(raw.count))
        var packed = [UInt8](repeating: 0, count: Int(size))
        _ = compress2(&packed, &size, raw, uLong(raw.count), 6)
        func be(_ v: Int) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
        let ihdr = be(width) + be(height) + [8, 2, 0, 0, 0]
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr)
                    + chunk("IDAT", Array(packed.prefix(Int(size)))) + chunk("IEND", []))
    }

    /// Runs `imgsearch` and returns its exit status, stderr and peak RSS in bytes.
    static func runMeasured(_ arguments: [String]) throws -> (status: Int32, stderr: String, maxRSS: Int) {
        let err = FileManager.default.temporaryDirectory.appendingPathComponent("clip-rss-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: err) }
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, err.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([CommandLineTests.executable.path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, CommandLineTests.executable.path, &actions, nil, argv, environ)
        guard rc == 0 else { throw ImageDecodeError(file: "imgsearch", reason: "posix_spawn failed: \(rc)") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let stderr = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        // ru_maxrss is in kilobytes on Linux.
        return ((status >> 8) & 0xFF, stderr, usage.ru_maxrss * 1024)
    }

    /// Extreme aspect ratios embed in bounded memory. model_a's input is 32 px, so
    /// 400000x1 would have been resized to 12.8 million x 32 before the crop
    /// (1.2 GB of RGB); at 224 px the issue's 60000x2 took 2.3 GB.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: CommandLineTests.executable.path)))
    func extremeAspectRatiosEmbedInBoundedMemory() throws {
        let dir = try CommandLineTests.modelDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let baseline = try Self.runMeasured(["embed", "--model", dir.path, "--text", "x"])
        for (w, h) in [(60000, 2), (2, 60000), (400000, 1), (1, 400000)] {
            let file = dir.appendingPathComponent("extreme_\(w)x\(h).png")
            try Self.png(width: w, height: h).write(to: file)
            let start = Date()
            let run = try Self.runMeasured(["embed", "--model", dir.path, file.path])
            print("\(w)x\(h): peak RSS \(run.maxRSS >> 20) MiB (text-only run \(baseline.maxRSS >> 20) MiB), \(Date().timeIntervalSince(start)) s in a debug build")
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.maxRSS < 300 << 20, "\(w)x\(h): peak RSS \(run.maxRSS >> 20) MiB")
        }
    }

    static func patched(_ name: String, _ edit: (inout [UInt8]) -> Void) throws -> [UInt8] {
        var bytes = [UInt8](try Data(contentsOf: Fixtures.url("decode/\(name)")))
        edit(&bytes)
        return bytes
    }

    /// Small files that declare a huge image, in each format: refused from the
    /// header, before any pixel memory; in a batch only that file fails.
    @Test func decompressionBombsFailCleanlyForThatFileOnly() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // JPEG: SOF height and width 65500, libjpeg's maximum (4.3 gigapixels).
        let jpeg = try Self.patched("baseline.jpg") { b in
            let sof = (0..<(b.count - 9)).first { b[$0] == 0xFF && (b[$0 + 1] == 0xC0 || b[$0 + 1] == 0xC2) }!
            b[sof + 5] = 0xFF; b[sof + 6] = 0xDC; b[sof + 7] = 0xFF; b[sof + 8] = 0xDC
        }
        // WebP (VP8): 14-bit width and height 16383 (268 megapixels).
        let webp = try Self.patched("lossy.webp") { b in
            let start = (0..<(b.count - 3)).first { b[$0] == 0x9D && b[$0 + 1] == 0x01 && b[$0 + 2] == 0x2A }!
            b[start + 3] = 0xFF; b[start + 4] = 0x3F; b[start + 5] = 0xFF; b[start + 6] = 0x3F
        }
        // PNG: a valid zlib stream of one row, under an IHDR of 10001x10000.
        var png = [UInt8](Self.png(width: 4, height: 1))
        png.replaceSubrange(16..<24, with: [0, 0, 0x27, 0x11, 0, 0, 0x27, 0x10])
        let crc = png[12..<29].withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, 17)) }
        png.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)])
        let decoder = ImageDecoder()
        for (name, bytes, size) in [("bomb.jpg", jpeg, "65500x65500"), ("bomb.webp", webp, "16383x16383"), ("bomb.png", png, "10001x10000")] {
            let url = dir.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            #expect(bytes.count < 4096)
            do {
                _ = try decoder.decode(contentsOf: url)
                Issue.record("\(name) decoded")
            } catch {
                #expect("\(error)" == "\(url.path): image is \(size) pixels, more than the limit of 100000000", "\(error)")
            }
        }
        guard FileManager.default.isExecutableFile(atPath: CommandLineTests.executable.path) else { return }
        let model = try CommandLineTests.modelDirectory()
        defer { try? FileManager.default.removeItem(at: model) }
        let good = Fixtures.url("decode/baseline.jpg").path
        let paths = ["bomb.jpg", "bomb.webp", "bomb.png"].map { dir.appendingPathComponent($0).path }
        let run = try Self.runMeasured(["embed", "--keep-going", "--model", model.path, paths[0], good, paths[1], paths[2]])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 3, "\(run.stderr)")
        #expect(run.maxRSS < 300 << 20)
        let out = try CommandLineTests.run(["embed", "--keep-going", "--model", model.path, paths[0], good, paths[1], paths[2]])
        #expect(out.stdout.split(separator: "\n").count == 1 && out.stdout.contains(good))
    }
}
