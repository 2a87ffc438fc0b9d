import Foundation
import Testing
@testable import CLIP

@Suite struct ImageDecoderTests {
    struct Entry: Sendable { var width: Int, height: Int, mode: String }

    static let manifest: [String: Entry] = {
        let json = try! Fixtures.json("decode/decode.json") as! [String: [String: Any]]
        return json.mapValues { Entry(width: $0["width"] as! Int, height: $0["height"] as! Int, mode: $0["mode"] as! String) }
    }()

    static func reference(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: Fixtures.url("decode/\(name)")))
    }

    /// Every kind of file against Pillow's `Image.open(f).convert("RGB")`.
    @Test(arguments: manifest.keys.sorted())
    func matchesPillow(file: String) throws {
        let entry = Self.manifest[file]!
        let image = try ImageDecoder().decode(contentsOf: Fixtures.url("decode/\(file)"))
        #expect(image.width == entry.width && image.height == entry.height)
        let want = try Self.reference(file + ".rgb")
        let maxDiff = zip(image.pixels, want).map { abs(Int($0) - Int($1)) }.max() ?? 0
        print("decode \(file) (\(entry.mode)): max abs difference to Pillow \(maxDiff)")
        #expect(maxDiff == 0, "\(file): max abs difference \(maxDiff)")
    }

    /// Orientations 2...8 against Pillow's `ImageOps.exif_transpose`; ignored unless asked for.
    @Test(arguments: 2...8)
    func exifOrientationIsOptIn(orientation: Int) throws {
        let url = Fixtures.url("decode/exif\(orientation).jpg")
        let plain = try ImageDecoder().decode(contentsOf: url)
        #expect(plain.width == 48)
        let rotated = try ImageDecoder(applyEXIFOrientation: true).decode(contentsOf: url)
        #expect(rotated.width == (orientation >= 5 ? 32 : 48) && rotated.height == (orientation >= 5 ? 48 : 32))
        #expect(rotated.pixels == (try Self.reference("exif\(orientation).jpg.transposed.rgb")))
    }

    static func failure(_ file: String, _ decoder: ImageDecoder = ImageDecoder()) -> String {
        do { _ = try decoder.decode(contentsOf: Fixtures.url("decode/\(file)")); return "no error" } catch { return "\(error)" }
    }

    @Test func badFilesGiveClearPerFileErrors() {
        let cases: [(String, String)] = [
            ("bad_truncated.jpg", "truncated JPEG"),
            ("bad_truncated.png", "truncated PNG"),
            ("bad_empty.png", "empty file (0 bytes)"),
            ("bad_text.jpg", "not a JPEG, PNG or WebP file"),
            ("bad_huge.png", "200000x200000 pixels, more than the limit"),
            ("bad_corrupt.webp", "WebP"),
            ("does_not_exist.png", "no such file"),
        ]
        for (file, expected) in cases {
            let message = Self.failure(file)
            #expect(message.hasPrefix(Fixtures.url("decode/\(file)").path + ": "), "\(message)")
            #expect(message.contains(expected), "\(file): \(message)")
        }
        #expect(Self.failure("baseline.jpg", ImageDecoder(maxPixels: 1000)).contains("48x32 pixels, more than the limit of 1000"))
        #expect(Self.failure("baseline.jpg", ImageDecoder(maxFileBytes: 100)).contains("more than the limit of 100"))
    }
}
