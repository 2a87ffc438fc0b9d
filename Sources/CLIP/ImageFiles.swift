import Foundation

extension CLIPModel {
    /// Embeddings of image files in one forward pass, with bounded memory: each
    /// file is decoded and preprocessed before the next is read, so at most one
    /// decoded image (≤ `decoder.maxPixels` pixels, 3 bytes each, plus the
    /// decoder's transient copy of it) is alive at a time, next to the batch's
    /// `3 × imageSize²` floats per image. Decoding a whole batch first would hold
    /// every image: 16 files at the 100-megapixel limit are 4.8 GB.
    ///
    /// A file that cannot be read or decoded (including decompression bombs,
    /// refused from their header) fails alone: its result is the error, the
    /// others are embedded. Results are in the order of `files`.
    public func embed(imageFiles files: [URL], decoder: ImageDecoder = ImageDecoder(),
                      normalize: Bool = true) throws -> [Result<[Float], ImageDecodeError>] {
        var pixels: [Float] = []
        var results: [Result<[Float], ImageDecodeError>?] = Array(repeating: nil, count: files.count)
        var decoded: [Int] = []
        for (i, file) in files.enumerated() {
            do {
                let tensor = try Self.preprocessed(file, decoder: decoder, preprocessor: preprocessor)
                if decoded.isEmpty { pixels.reserveCapacity(files.count * tensor.count) }
                pixels += tensor
                decoded.append(i)
            } catch let error as ImageDecodeError {
                results[i] = .failure(error)
            } catch {
                results[i] = .failure(ImageDecodeError(file: file.path, reason: "\(error)"))
            }
        }
        if !decoded.isEmpty {
            for (i, v) in zip(decoded, try embed(pixelValues: pixels, normalize: normalize)) { results[i] = .success(v) }
        }
        return results.map { $0! }
    }

    /// Decodes and preprocesses one file; the decoded image is released on return.
    static func preprocessed(_ file: URL, decoder: ImageDecoder, preprocessor: ImagePreprocessor) throws -> [Float] {
        preprocessor(try decoder.decode(contentsOf: file))
    }
}
