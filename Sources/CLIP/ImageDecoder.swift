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
            func failure(_ image: clip_image) -> ImageDecodeError {
                let message = withUnsafeBytes(of: image.error) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                return ImageDecodeError(file: name, reason: message.isEmpty ? "cannot decode \(format.rawValue)" : message)
            }
            // The size first (refusing bombs from the header), then decoding straight
            // into the Swift array: one copy of the pixels in memory, not two.
            var header = clip_image()
            let cFormat: clip_format = format == .jpeg ? CLIP_FORMAT_JPEG : format == .png ? CLIP_FORMAT_PNG : CLIP_FORMAT_WEBP
            guard clip_image_size(base, raw.count, cFormat, maxPixels, &header) == 0 else { throw failure(header) }
            let count = Int(header.width) * Int(header.height) * 3
            var out = clip_image()
            var status: Int32 = -1
            let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                switch format {
                case .jpeg: status = clip_decode_jpeg(base, raw.count, maxPixels, buffer.baseAddress, count, &out)
                case .png: status = clip_decode_png(base, raw.count, maxPixels, buffer.baseAddress, count, &out)
                case .webp: status = clip_decode_webp(base, raw.count, maxPixels, buffer.baseAddress, count, &out)
                }
                initialized = status == 0 ? count : 0
            }
            guard status == 0 else { throw failure(out) }
            var image = RGBImage(width: Int(out.width), height: Int(out.height), pixels: pixels)
            if applyEXIFOrientation && format == .jpeg, let orientation = EXIF.jpegOrientation(raw) {
                image = EXIF.apply(orientation: orientation, to: image)
            }
            return image
        }
    }
}
