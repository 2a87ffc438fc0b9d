import Foundation
import Testing
@testable import CLIP
@testable import ImageSearch

@Suite struct CopyBinaryTests {
    @Test func headerRowsAndTrailerFollowPostgresBinaryCopy() {
        var copy = CopyBinaryWriter()
        copy.beginRow(fieldCount: 4)
        copy.append(text: "é")
        copy.appendNull()
        copy.append(int4: -2)
        copy.append(vector: [1.5, -0.25])
        copy.finish()
        let expected: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]
            + [0, 4]                                   // field count
            + [0, 0, 0, 2, 0xC3, 0xA9]                 // text "é" in UTF-8
            + [0xFF, 0xFF, 0xFF, 0xFF]                 // NULL
            + [0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFE]     // int4 -2
            + [0, 0, 0, 12, 0, 2, 0, 0, 0x3F, 0xC0, 0, 0, 0xBE, 0x80, 0, 0]  // vector: dim 2, reserved, floats
            + [0xFF, 0xFF]                             // trailer
        #expect(copy.bytes == expected)
    }

    @Test func timestampsCountMicrosecondsFrom2000() {
        var copy = CopyBinaryWriter()
        copy.append(timestampMicrosSince1970: 946_684_800_000_001)  // 2000-01-01 00:00:00.000001
        #expect(Array(copy.bytes.suffix(12)) == [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1])
    }
}

@Suite struct SearchFilterTests {
    @Test func onlyTheSetFiltersBecomeConditionsWithNumberedParameters() {
        #expect(SearchFilter().whereClause(firstParameter: 3).conditions.isEmpty)
        let filter = SearchFilter(after: "2020-01-01", camera: "it's", pathGlob: "*.jpg")
        let (conditions, parameters) = filter.whereClause(firstParameter: 3)
        #expect(conditions.count == 3)
        #expect(conditions[0].contains("$3::timestamp") && conditions[1].contains("$4") && conditions[2].contains("$5"))
        #expect(parameters == ["2020-01-01", "it's", "%.jpg"])
        #expect(!conditions.joined().contains("it's"), "values never enter the SQL text")
        #expect(conditions[2].hasPrefix("regexp_replace(path"), "a glob without / matches the file name")
        #expect(SearchFilter(pathGlob: "/a/*").whereClause(firstParameter: 1).conditions[0].hasPrefix("path LIKE"))
    }

    @Test func globsBecomeLikePatternsWithLikesOwnCharactersEscaped() {
        #expect(SearchFilter.likePattern(glob: "*/2024_?%.jpg") == "%/2024\\__\\%.jpg")
        #expect(SearchFilter.likePattern(glob: "a\\b") == "a\\\\b")
        #expect(SearchFilter.likeEscaped("100%_x") == "100\\%\\_x")
    }

    @Test(arguments: ["2024-05-01", "2024-05-01 13:45", "2024-05-01T13:45:59", "1999-12-31 23:59:59"])
    func validDates(_ text: String) { #expect(SearchFilter.isValidDate(text)) }

    @Test(arguments: ["", "yesterday", "2024-13-01", "2024-00-10", "2024-05-32", "2024-5-1", "2024-05-01 24:00",
                      "2024-05-01 12:60", "2024-05-01 12:00:61", "2024-05-01; DROP TABLE x"])
    func invalidDates(_ text: String) { #expect(!SearchFilter.isValidDate(text)) }

    @Test func arrayLiteralsQuoteEveryElement() {
        #expect(postgresArrayLiteral(["a", "b,c", "d\"e", "f\\g", "{}", "NULL"]) == #"{"a","b,c","d\"e","f\\g","{}","NULL"}"#)
    }
}

@Suite struct PhotoMetadataTests {
    /// A JPEG start with an Exif APP1 segment holding `tiff`.
    func jpeg(tiff: [UInt8]) -> Data {
        let payload = Array("Exif".utf8) + [0, 0] + tiff
        let length = payload.count + 2
        return Data([0xFF, 0xD8, 0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload + [0xFF, 0xD9])
    }

    /// A little- or big-endian TIFF: IFD0 with Make, Model and an Exif IFD
    /// pointer; the Exif IFD with DateTimeOriginal.
    func tiff(littleEndian: Bool, make: String, model: String, date: String) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { littleEndian ? [UInt8(v & 0xFF), UInt8(v >> 8)] : [UInt8(v >> 8), UInt8(v & 0xFF)] }
        func u32(_ v: Int) -> [UInt8] { littleEndian ? u16(v & 0xFFFF) + u16(v >> 16) : u16(v >> 16) + u16(v & 0xFFFF) }
        let makeBytes = Array(make.utf8) + [0], modelBytes = Array(model.utf8) + [0], dateBytes = Array(date.utf8) + [0]
        let ifd0 = 8, ifd0Size = 2 + 3 * 12 + 4
        let exifIFD = ifd0 + ifd0Size, exifSize = 2 + 12 + 4
        let makeAt = exifIFD + exifSize, modelAt = makeAt + makeBytes.count, dateAt = modelAt + modelBytes.count
        var t: [UInt8] = littleEndian ? [0x49, 0x49] : [0x4D, 0x4D]
        t += u16(42) + u32(ifd0)
        t += u16(3)
        t += u16(0x010F) + u16(2) + u32(makeBytes.count) + u32(makeAt)
        t += u16(0x0110) + u16(2) + u32(modelBytes.count) + u32(modelAt)
        t += u16(0x8769) + u16(4) + u32(1) + u32(exifIFD)
        t += u32(0)
        t += u16(1) + u16(0x9003) + u16(2) + u32(dateBytes.count) + u32(dateAt) + u32(0)
        return t + makeBytes + modelBytes + dateBytes
    }

    @Test(arguments: [true, false])
    func readsCaptureTimeAndCamera(littleEndian: Bool) {
        let data = jpeg(tiff: tiff(littleEndian: littleEndian, make: "NIKON CORPORATION", model: "NIKON D750", date: "2021:05:02 08:00:07"))
        let metadata = PhotoMetadata.read(data)
        #expect(metadata.camera == "NIKON D750")
        #expect(metadata.takenAt == DateComponents(year: 2021, month: 5, day: 2, hour: 8, minute: 0, second: 7))
        #expect(Indexer.wallClockMicros(metadata.takenAt!) == 1_619_942_407_000_000)
    }

    @Test func makeIsKeptWhenTheModelDoesNotRepeatIt() {
        let data = jpeg(tiff: tiff(littleEndian: true, make: "Apple", model: "iPhone 12", date: "0000:00:00 00:00:00"))
        let metadata = PhotoMetadata.read(data)
        #expect(metadata.camera == "Apple iPhone 12")
        #expect(metadata.takenAt == nil, "the all-zero placeholder is no date")
    }

    @Test func truncatedOrForeignDataGivesNoMetadata() {
        let full = jpeg(tiff: tiff(littleEndian: true, make: "Canon", model: "Canon EOS 5D", date: "2019:07:14 10:30:00"))
        for cut in stride(from: 0, to: full.count, by: 7) {
            _ = PhotoMetadata.read(full.prefix(cut))  // must not trap on any prefix
        }
        #expect(PhotoMetadata.read(Data([0x89, 0x50, 0x4E, 0x47])) == PhotoMetadata())
        #expect(PhotoMetadata.read(Data()) == PhotoMetadata())
    }
}

@Suite struct FileScanTests {
    @Test func findsImagesRecursivelyByExtensionAndReportsMissingRoots() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("scan-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/a/b", withIntermediateDirectories: true)
        for name in ["x.JPG", "a/y.png", "a/b/z.webp", "a/notes.txt", "a/b/w.jpeg"] {
            FileManager.default.createFile(atPath: root + "/" + name, contents: Data([1, 2, 3]))
        }
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: root + "/a")
        let (files, errors) = FileScan.scan(roots: [root, root + "/missing"])
        let canonical = FileScan.canonicalPath(root)
        #expect(files.map(\.path) == ["a/b/w.jpeg", "a/b/z.webp", "a/y.png", "x.JPG"].map { canonical + "/" + $0 })
        #expect(files.allSatisfy { $0.size == 3 && $0.modifiedMicros > 0 })
        #expect(errors.count == 1 && errors[0].path.hasSuffix("/missing") && errors[0].reason == "No such file or directory")
    }

    @Test func overlappingRootsAreWalkedOnce() {
        let roots = ["/p/2023", "/p", "/p", "/photos", "/p/2023/x.jpg", "/q/"].map(RawPath.init)
        #expect(FileScan.outermost(roots) == ["/p", "/photos", "/q/"].map(RawPath.init))
        #expect(FileScan.isInside("/p/a", "/p") && FileScan.isInside("/p", "/p") && !FileScan.isInside("/pa", "/p"))
        #expect(FileScan.isInside("/x", "/"))
    }

    @Test func rawPathsKeepBytesThatAreNotUTF8() throws {
        let latin1 = RawPath(bytes: Array("/photos/caf".utf8) + [0xE9] + Array(".png".utf8))
        #expect(!latin1.isValidUTF8 && latin1.display == "/photos/caf\u{FFFD}.png")
        #expect(latin1.byteaLiteral == "\\x2f70686f746f732f636166e92e706e67")
        #expect(RawPath(byteaHex: latin1.byteaLiteral) == latin1 && RawPath(byteaHex: latin1.hex) == latin1)
        #expect(RawPath(byteaHex: "\\x0") == nil && RawPath(byteaHex: "zz") == nil)
        #expect(latin1.isInside(RawPath("/photos")) && !latin1.isInside(RawPath("/photo")))
        #expect(RawPath("/").appending(Array("a".utf8)) == RawPath("/a"))
        #expect(FileScan.isImageName(latin1) && !FileScan.isImageName(RawPath("/a.png/b")))
        // A file whose name is not UTF-8 is found, named by its bytes, and readable.
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("raw-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let file = RawPath(FileScan.canonicalPath(root)).appending([0xFF, 0x2E, 0x6A, 0x70, 0x67])  // "\xFF.jpg"
        let descriptor = file.withCString { open($0, O_WRONLY | O_CREAT, 0o644) }
        #expect(descriptor >= 0)
        _ = write(descriptor, [UInt8]([1, 2, 3]), 3)
        close(descriptor)
        let (files, errors) = FileScan.scan(roots: [root])
        #expect(files.map(\.raw) == [file] && errors.isEmpty)
        #expect(try file.readContents().get() == Data([1, 2, 3]))
    }
}
