import Foundation
import Testing
@testable import ImageSearch

@Suite struct SHA256Tests {
    static func hex(_ s: String) -> String { SHA256.hex(SHA256.hash(Array(s.utf8))) }

    /// FIPS 180-4 examples (NIST CSRC "SHA256.pdf", "SHA2_Additional.pdf").
    @Test func nistVectors() {
        #expect(Self.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Self.hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")
            == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    @Test func oneMillionA() {
        // Fed in uneven pieces so that both the buffered and the direct paths run.
        var h = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 999)
        var left = 1_000_000
        while left > 0 {
            let n = min(left, chunk.count)
            h.update(chunk[0..<n])
            left -= n
        }
        #expect(SHA256.hex(h.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(SHA256.hex(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Lengths around the padding boundaries (55, 56, 63, 64, ...) against a
    /// second, independent path: the same bytes split in two.
    @Test func incrementalUpdatesEqualOneShot() {
        let message = (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200] {
            let part = Array(message[0..<length])
            let oneShot = SHA256.hash(part)
            for split in 0...length {
                var h = SHA256()
                h.update(part[0..<split])
                h.update(part[split...])
                #expect(h.finalize() == oneShot, "length \(length) split \(split)")
            }
        }
        // Every offset of the 200-byte message, also through the raw-pointer API,
        // and three pieces.
        let whole = SHA256.hash(message)
        for split in 0...message.count {
            var h = SHA256()
            message.withUnsafeBytes { raw in
                h.update(UnsafeRawBufferPointer(rebasing: raw[0..<split]))
                h.update(UnsafeRawBufferPointer(rebasing: raw[split...]))
            }
            #expect(h.finalize() == whole, "split \(split)")
            var three = SHA256()
            three.update(message[0..<(split / 2)])
            three.update(message[(split / 2)..<split])
            three.update(message[split...])
            #expect(three.finalize() == whole, "three pieces at \(split / 2), \(split)")
        }
    }

    @Test func finalizeLeavesTheHasherUsable() {
        var h = SHA256()
        h.update(Array("ab".utf8))
        _ = h.finalize()
        h.update(Array("c".utf8))
        #expect(SHA256.hex(h.finalize()) == Self.hex("abc"))
        #expect(h.finalize().count == 32)
    }

    @Test func hashFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sha256-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Over 1 MiB so that the chunked read loops.
        let bytes = (0..<(3 << 20) + 12345).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try SHA256.hashFile(at: path) == SHA256.hex(SHA256.hash(bytes)))

        try Data().write(to: URL(fileURLWithPath: path))
        #expect(try SHA256.hashFile(at: path) == Self.hex(""))
    }

    @Test func hashFileErrorsNameThePath() {
        let missing = "/nonexistent-\(UUID().uuidString)/photo.jpg"
        do {
            _ = try SHA256.hashFile(at: missing)
            Issue.record("no error for a missing file")
        } catch {
            #expect("\(error)" == "\(missing): No such file or directory")
            #expect(error.localizedDescription.contains(missing))
        }
        #expect(throws: SHA256.FileError.self) { try SHA256.hashFile(at: FileManager.default.temporaryDirectory.path) }
    }
}
