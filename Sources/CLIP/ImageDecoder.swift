import CLIPImageCodecs
import Foundation

/// Why one image file could not be decoded. Always names the file, so a batch
/// run can report each bad input and carry on.
public struct ImageDecodeError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var reason: String
    public var description: String { "\(file): \(reason)" }
}

/// Decodes JPEG (baseline, progressive, grayscale, CMYK), PNG (any colour type
/// and bit depth, interlaced) and WebP (lossy, lossless; not animated) into
/// 8-bit RGB, the way Pillow's `Image.open(f).convert("RGB")` does, which is what
/// transformers' image processor sees: alpha is dropped (not composited),
/// palettes expanded, 16-bit samples reduced to their high byte.
///
/// Memory is bounded: files above `maxFileBytes` are not read, and an image
/// whose header declares more than `maxPixels` pixels is rejected before any
/// pixel buffer is allocated.
public struct ImageDecoder: Sendable {
    /// Largest file read, in bytes.
    public var maxFileBytes: Int = 256 << 20
    /// Largest width × height accepted (100 megapixels: about 300 MB of RGB).
    public var maxPixels: UInt64 = 100_000_000
    /// Rotate/flip JPEGs as their EXIF orientation tag says. Off by default because
    /// transformers (Pillow's `Image.open`) ignores it, and embeddings should match.
    public var applyEXIFOrientation: Bool = false

    public init(maxFileBytes: Int = 256 << 20, maxPixels: UInt64 = 100_000_000, applyEXIFOrientation: Bool = false) {
        self.maxFileBytes = maxFileBytes
        self.maxPixels = maxPixels
        self.applyEXIFOrientation = applyEXIFOrientation
    }

    public enum Format: String, Sendable { case jpeg, png, webp }

    /// The format from the file's first bytes (extensions are not trusted).
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> Format? {
        let b = Array(bytes.prefix(12))
        if b.count >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF { return .jpeg }
        if b.count >= 8 && b[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if b.count >= 12 && b[0..<4] == Array("RIFF".utf8)[...] && b[8..<12] == Array("WEBP".utf8)[...] { return .webp }
        return nil
    }

    /// Reads and decodes one file.
    public func decode(contentsOf url: URL) throws -> RGBImage {
        let name = url.path
        let attributes: [FileAttributeKey: Any]
        do { attributes = try FileManager.default.attributesOfItem(atPath: name) } catch {
            throw ImageDecodeError(file: name, reason: "cannot read file (\(FileManager.default.fileExists(atPath: name) ? "permission or I/O error" : "no such file"))")
        }
        if attributes[.type] as? FileAttributeType == .typeDirectory {
            throw ImageDecodeError(file: name, reason: "is a directory")
        }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        guard size <= maxFileBytes else {
            throw ImageDecodeError(file: name, reason: "file is \(size) bytes, more than the limit of \(maxFileBytes)")
        }
        guard let data = FileManager.default.contents(atPath: name) else {
            throw ImageDecodeError(file: name, reason: "cannot read file")
        }
        return try decode(data, name: name)
    }

    /// Decodes an in-memory file; `name` is used in errors.
    public func decode(_ data: Data, name: String) throws -> RGBImage {
        guard !data.isEmpty else { throw ImageDecodeError(file: name, reason: "empty file (0 bytes)") }
        guard data.count <= maxFileBytes else {
            throw ImageDecodeError(file: name, reason: "file is \(data.count) bytes, more than the limit of \(maxFileBytes)")
        }
        return try data.withUnsafeBytes { raw -> RGBImage in
            guard let format = Self.sniff(raw) else {
                throw ImageDecodeError(file: name, reason: "not a JPEG, PNG or WebP file")
            }
            let base = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var out = clip_image()
            let status: Int32
            switch format {
            case .jpeg: status = clip_decode_jpeg(base, raw.count, maxPixels, &out)
            case .png: status = clip_decode_png(base, raw.count, maxPixels, &out)
            case .webp: status = clip_decode_webp(base, raw.count, maxPixels, &out)
            }
            defer { clip_image_free(&out) }
            guard status == 0, let pixels = out.pixels else {
                let message = withUnsafeBytes(of: out.error) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                throw ImageDecodeError(file: name, reason: message.isEmpty ? "cannot decode \(format.rawValue)" : message)
            }
            let count = Int(out.width) * Int(out.height) * 3
            var image = RGBImage(width: Int(out.width), height: Int(out.height),
                                 pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
            if applyEXIFOrientation && format == .jpeg, let orientation = EXIF.jpegOrientation(raw) {
                image = EXIF.apply(orientation: orientation, to: image)
            }
            return image
        }
    }
}

/// Just enough EXIF to find a JPEG's orientation tag.
enum EXIF {
    /// The orientation (1...8) in a JPEG's APP1 Exif segment, if any.
    static func jpegOrientation(_ b: UnsafeRawBufferPointer) -> Int? {
        var i = 2
        while i + 4 <= b.count, b[i] == 0xFF {
            let marker = b[i + 1]
            if marker == 0xDA || marker == 0xD9 { return nil }  // image data starts: no more metadata
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2, i + 2 + length <= b.count else { return nil }
            let start = i + 4
            if marker == 0xE1, length >= 8, Array(b[start..<(start + 6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                return tiffOrientation(UnsafeRawBufferPointer(rebasing: b[(start + 6)..<(i + 2 + length)]))
            }
            i += 2 + length
        }
        return nil
    }

    /// Orientation from a TIFF structure (EXIF payload): IFD0's tag 0x0112.
    static func tiffOrientation(_ t: UnsafeRawBufferPointer) -> Int? {
        guard t.count >= 8 else { return nil }
        let little: Bool
        switch (t[0], t[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= t.count else { return nil }
            return little ? Int(t[o]) | Int(t[o + 1]) << 8 : Int(t[o]) << 8 | Int(t[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let b = u16(o + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard let ifd = u32(4), let entries = u16(ifd) else { return nil }
        for e in 0..<entries {
            let entry = ifd + 2 + 12 * e
            guard let tag = u16(entry) else { return nil }
            if tag == 0x0112, let type = u16(entry + 2), type == 3, let value = u16(entry + 8), (1...8).contains(value) {
                return value
            }
        }
        return nil
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
