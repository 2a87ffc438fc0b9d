import COpenBLAS
import Foundation

/// A CLIP model loaded from a Hugging Face model directory (`config.json`,
/// `model.safetensors`, `tokenizer.json` or `vocab.json` + `merges.txt` or OpenAI's
/// `bpe_simple_vocab_16e6.txt.gz`, and optionally `preprocessor_config.json`).
///
/// Text and images map into the same `projectionDim`-dimensional space;
/// embeddings are L2-normalised unless `normalize: false` is passed, which gives
/// the raw outputs of transformers' `get_text_features` / `get_image_features`.
public final class CLIPModel: Sendable {
    public let config: CLIPConfig
    public let tokenizer: CLIPTokenizer
    public let preprocessor: ImagePreprocessor
    let text: TextTower
    let vision: VisionTower
    /// Keeps the mapping alive for zero-copy weights.
    let weights: SafetensorsFile

    /// The environment variable naming a default model directory.
    public static let modelDirectoryVariable = "IMGSEARCH_CLIP_MODEL"

    /// Loads and validates every tensor the configuration calls for; a missing
    /// tensor or one of the wrong shape fails here with its name.
    ///
    /// - Parameter tokenizer: a tokenizer to use instead of the directory's
    ///   vocabulary files (models of one family share one vocabulary).
    /// - Parameter textCleaning: the text pipeline of the directory's tokenizer
    ///   (ignored when `tokenizer` is given: it has its own).
    public init(directory: URL, tokenizer sharedTokenizer: CLIPTokenizer? = nil, textCleaning: TextCleaning = .huggingFace) throws {
        config = try CLIPConfig(contentsOf: directory.appendingPathComponent("config.json"))
        let contextLength = min(77, config.text.maxPositionEmbeddings)
        if let sharedTokenizer {
            tokenizer = sharedTokenizer.withContextLength(contextLength)
        } else {
            tokenizer = try CLIPTokenizer(directory: directory, contextLength: contextLength, cleaning: textCleaning)
        }
        let preprocessorURL = directory.appendingPathComponent("preprocessor_config.json")
        if FileManager.default.fileExists(atPath: preprocessorURL.path) {
            preprocessor = ImagePreprocessor(config: try PreprocessorConfig(contentsOf: preprocessorURL))
        } else {
            preprocessor = ImagePreprocessor(config: .openAI(size: config.vision.imageSize))
        }
        weights = try SafetensorsFile(path: directory.appendingPathComponent("model.safetensors").path)
        text = try TextTower(weights, config.text, projectionDim: config.projectionDim)
        vision = try VisionTower(weights, config.vision, projectionDim: config.projectionDim)
        if case .some((let h, let w)) = preprocessor.config.crop, h != config.vision.imageSize || w != config.vision.imageSize {
            throw CLIPLoadError.badConfig(preprocessorURL.path, "crop size \(h)x\(w) differs from the model's image_size \(config.vision.imageSize)")
        }
    }

    /// Sets how many threads OpenBLAS uses for matrix products (process-wide).
    public static func setThreadCount(_ n: Int) {
        openblas_set_num_threads(Int32(max(1, n)))
    }

    /// The OpenBLAS kernel family doing the matrix products ("Cooperlake",
    /// "Haswell", ...): OpenBLAS picks it for the CPU when it loads, unless the
    /// `OPENBLAS_CORETYPE` environment variable names one. On CPUs with AVX-512
    /// the AVX-512 families are about 1.6x faster for CLIP than "Haswell".
    public static var matrixKernels: String {
        openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }

    /// Embeddings of a batch of texts.
    ///
    /// - Parameter cleaning: the text pipeline for this call (default: the tokenizer's).
    public func embed(texts: [String], cleaning: TextCleaning? = nil, normalize: Bool = true) throws -> [[Float]] {
        let tok = cleaning.map { tokenizer.withCleaning($0) } ?? tokenizer
        return try embed(tokenSequences: texts.map { tok.encode($0) }, normalize: normalize)
    }

    /// Embeddings of token sequences that include the start and end tokens.
    public func embed(tokenSequences: [[Int]], normalize: Bool = true) throws -> [[Float]] {
        let raw = try text.embed(tokenSequences, padId: tokenizer.endTokenId)
        return normalize ? raw.map(Self.normalized) : raw
    }

    /// Embeddings of decoded images (preprocessed here).
    public func embed(images: [RGBImage], normalize: Bool = true) throws -> [[Float]] {
        var pixels: [Float] = []
        pixels.reserveCapacity(images.count * vision.pixelsPerImage)
        for image in images { pixels += preprocessor(image) }
        return try embed(pixelValues: pixels, normalize: normalize)
    }

    /// Embeddings of already preprocessed images, `[batch, channels, size, size]` floats.
    public func embed(pixelValues: [Float], normalize: Bool = true) throws -> [[Float]] {
        let raw = try pixelValues.withUnsafeBufferPointer { try vision.embed($0) }
        return normalize ? raw.map(Self.normalized) : raw
    }

    /// `v / ‖v‖` (a zero vector stays zero).
    public static func normalized(_ v: [Float]) -> [Float] {
        let n = v.withUnsafeBufferPointer { Vector.norm($0) }
        return n > 0 ? v.map { $0 / n } : v
    }
}
