import Foundation

/// What a photo's EXIF block says about when and with what it was taken.
public struct PhotoMetadata: Equatable, Sendable {
    /// `DateTimeOriginal` (else `DateTime`) as written by the camera: a wall
    /// clock reading without a time zone.
    public var takenAt: DateComponents?
    /// `Make` and `Model` joined, with the make left out when the model
    /// already starts with its first word ("Canon" + "Canon EOS 5D" reads
    /// "Canon EOS 5D", "NIKON CORPORATION" + "NIKON D750" reads "NIKON D750").
    public var camera: String?

    public init(takenAt: DateComponents? = nil, camera: String? = nil) {
        self.takenAt = takenAt
        self.camera = camera
    }

    /// The metadata in an image file's Exif segment: JPEG only for now; other
    /// formats and files without EXIF give nil fields.
    public static func read(_ data: Data) -> PhotoMetadata {
        data.withUnsafeBytes { raw in
            guard ImageDecoder.sniff(raw) == .jpeg, let tiff = EXIF.jpegTIFF(raw) else { return PhotoMetadata() }
            return EXIF.metadata(tiff)
        }
    }
}

/// Just enough EXIF: a JPEG's APP1 "Exif" segment holds a TIFF structure
/// whose first directory (IFD0) has the orientation, make and model, and
/// points to the Exif directory with the original capture time.
enum EXIF {
    enum Tag {
        static let orientation = 0x0112
        static let make = 0x010F
        static let model = 0x0110
        static let dateTime = 0x0132
        static let exifIFD = 0x8769
        static let dateTimeOriginal = 0x9003
    }

    /// The TIFF payload of a JPEG's Exif segment, if any.
    static func jpegTIFF(_ b: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var i = 2
        while i + 4 <= b.count, b[i] == 0xFF {
            let marker = b[i + 1]
            if marker == 0xDA || marker == 0xD9 { return nil }  // image data starts: no more metadata
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2, i + 2 + length <= b.count else { return nil }
            let start = i + 4
            if marker == 0xE1, length >= 8, Array(b[start..<(start + 6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                return UnsafeRawBufferPointer(rebasing: b[(start + 6)..<(i + 2 + length)])
            }
            i += 2 + length
        }
        return nil
    }

    /// The orientation (1...8) in a JPEG's Exif segment, if any.
    static func jpegOrientation(_ b: UnsafeRawBufferPointer) -> Int? {
        guard let tiff = jpegTIFF(b), let reader = TIFFReader(tiff),
              let entry = reader.entries(at: reader.firstIFD)[Tag.orientation],
              let value = reader.short(entry), (1...8).contains(value) else { return nil }
        return value
    }

    static func metadata(_ tiff: UnsafeRawBufferPointer) -> PhotoMetadata {
        guard let reader = TIFFReader(tiff) else { return PhotoMetadata() }
        let ifd0 = reader.entries(at: reader.firstIFD)
        var date = ifd0[Tag.dateTime].flatMap(reader.ascii)
        if let pointer = ifd0[Tag.exifIFD].flatMap(reader.long),
           let original = reader.entries(at: pointer)[Tag.dateTimeOriginal].flatMap(reader.ascii) {
            date = original
        }
        let make = ifd0[Tag.make].flatMap(reader.ascii)
        let model = ifd0[Tag.model].flatMap(reader.ascii)
        let camera: String?
        switch (make, model) {
        case let (make?, model?):
            let brand = make.split(separator: " ").first.map { $0.lowercased() } ?? ""
            camera = model.lowercased().hasPrefix(brand) ? model : "\(make) \(model)"
        case let (make?, nil): camera = make
        case let (nil, model?): camera = model
        case (nil, nil): camera = nil
        }
        return PhotoMetadata(takenAt: date.flatMap(parseDate), camera: camera)
    }

    /// "YYYY:MM:DD HH:MM:SS" (EXIF's format); nil for blanks and the
    /// all-zero placeholder some cameras write.
    static func parseDate(_ s: String) -> DateComponents? {
        let digits = s.split(whereSeparator: { $0 == ":" || $0 == " " || $0 == "-" || $0 == "T" }).map { Int($0) }
        guard digits.count >= 6, let y = digits[0], let mo = digits[1], let d = digits[2],
              let h = digits[3], let mi = digits[4], let sec = digits[5],
              (1...9999).contains(y), (1...12).contains(mo), (1...31).contains(d),
              (0...23).contains(h), (0...59).contains(mi), (0...60).contains(sec) else { return nil }
        return DateComponents(year: y, month: mo, day: d, hour: h, minute: mi, second: sec)
    }

    /// Applies an EXIF orientation, like Pillow's `ImageOps.exif_transpose`.
    static func apply(orientation: Int, to image: RGBImage) -> RGBImage {
        let w = image.width, h = image.height
        let swaps = orientation >= 5
        let ow = swaps ? h : w, oh = swaps ? w : h
        // Source coordinates of output pixel (x, y).
        let source: (Int, Int) -> (Int, Int)
        switch orientation {
        case 2: source = { x, y in (w - 1 - x, y) }
        case 3: source = { x, y in (w - 1 - x, h - 1 - y) }
        case 4: source = { x, y in (x, h - 1 - y) }
        case 5: source = { x, y in (y, x) }
        case 6: source = { x, y in (y, h - 1 - x) }
        case 7: source = { x, y in (w - 1 - y, h - 1 - x) }
        case 8: source = { x, y in (w - 1 - y, x) }
        default: return image
        }
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        for y in 0..<oh {
            for x in 0..<ow {
                let (sx, sy) = source(x, y)
                let s = (sy * w + sx) * 3, d = (y * ow + x) * 3
                out[d] = image.pixels[s]; out[d + 1] = image.pixels[s + 1]; out[d + 2] = image.pixels[s + 2]
            }
        }
        return RGBImage(width: ow, height: oh, pixels: out)
    }
}

/// Reads directory entries of a TIFF structure, either byte order, with every
/// offset bounds-checked (EXIF comes from untrusted files).
struct TIFFReader {
    let bytes: UnsafeRawBufferPointer
    let littleEndian: Bool
    private(set) var firstIFD: Int

    /// A directory entry: its type, count and the offset of its 4-byte value field.
    struct Entry { var type: Int, count: Int, valueOffset: Int }

    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 8 else { return nil }
        switch (bytes[0], bytes[1]) {
        case (0x49, 0x49): littleEndian = true
        case (0x4D, 0x4D): littleEndian = false
        default: return nil
        }
        self.bytes = bytes
        firstIFD = 0
        guard let ifd = u32(4) else { return nil }
        firstIFD = ifd
    }

    func u16(_ o: Int) -> Int? {
        guard o >= 0, o + 2 <= bytes.count else { return nil }
        return littleEndian ? Int(bytes[o]) | Int(bytes[o + 1]) << 8 : Int(bytes[o]) << 8 | Int(bytes[o + 1])
    }

    func u32(_ o: Int) -> Int? {
        guard let a = u16(o), let b = u16(o + 2) else { return nil }
        return littleEndian ? a | b << 16 : a << 16 | b
    }

    /// The entries of the directory at `offset`, by tag.
    func entries(at offset: Int) -> [Int: Entry] {
        guard let count = u16(offset), count <= 1000 else { return [:] }
        var found: [Int: Entry] = [:]
        for e in 0..<count {
            let at = offset + 2 + 12 * e
            guard let tag = u16(at), let type = u16(at + 2), let n = u32(at + 4), at + 12 <= bytes.count else { break }
            found[tag] = Entry(type: type, count: n, valueOffset: at + 8)
        }
        return found
    }

    /// A SHORT (type 3) value.
    func short(_ e: Entry) -> Int? { e.type == 3 ? u16(e.valueOffset) : nil }

    /// A LONG (type 4) value, as directory pointers are stored.
    func long(_ e: Entry) -> Int? { e.type == 4 ? u32(e.valueOffset) : nil }

    /// An ASCII (type 2) value without its terminator and padding; nil if empty.
    func ascii(_ e: Entry) -> String? {
        guard e.type == 2, e.count > 0, e.count <= 4096 else { return nil }
        let start = e.count <= 4 ? e.valueOffset : (u32(e.valueOffset) ?? -1)
        guard start >= 0, start + e.count <= bytes.count else { return nil }
        let raw = bytes[start..<(start + e.count)].prefix(while: { $0 != 0 })
        let text = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? nil : text
    }
}
