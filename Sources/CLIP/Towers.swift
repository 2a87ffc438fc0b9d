import Foundation

/// Errors for inputs handed to a loaded model.
public enum CLIPInputError: Error, CustomStringConvertible, Equatable {
    case tokenOutOfRange(id: Int, vocabularySize: Int)
    case sequenceTooLong(length: Int, maximum: Int)
    case emptySequence
    case wrongPixelCount(expected: Int, found: Int)

    public var description: String {
        switch self {
        case .tokenOutOfRange(let id, let size): return "token id \(id) is outside the vocabulary of \(size)"
        case .sequenceTooLong(let n, let max): return "\(n) tokens exceed the model's \(max) positions"
        case .emptySequence: return "a token sequence is empty"
        case .wrongPixelCount(let e, let f): return "pixel batch has \(f) values, expected a multiple of \(e)"
        }
    }
}

/// transformers' `CLIPTextTransformer` plus the text projection.
struct TextTower: Sendable {
    let config: TextConfig
    let tokenEmbedding: Weight
    let positionEmbedding: Weight
    let encoder: Encoder
    let finalLayerNorm: LayerNorm
    let projection: Linear

    init(_ file: SafetensorsFile, _ config: TextConfig, projectionDim: Int) throws {
        self.config = config
        let h = config.tower.hiddenSize
        tokenEmbedding = try file.weight("text_model.embeddings.token_embedding.weight", shape: [config.vocabSize, h])
        positionEmbedding = try file.weight("text_model.embeddings.position_embedding.weight", shape: [config.maxPositionEmbeddings, h])
        encoder = try Encoder(file, "text_model.encoder", config.tower)
        finalLayerNorm = try LayerNorm(file, "text_model.final_layer_norm", size: h, eps: config.tower.layerNormEps)
        projection = try Linear(file, "text_projection", in: h, out: projectionDim, bias: false)
    }

    /// Where transformers pools: configs from before its fix carry eos_token_id 2 and
    /// pool at the highest id (the end token is the largest id); newer ones name the id.
    func poolingIndex(_ ids: [Int]) -> Int {
        if config.eosTokenId == 2 {
            var best = 0
            for (i, id) in ids.enumerated() where id > ids[best] { best = i }
            return best
        }
        return ids.firstIndex(of: config.eosTokenId) ?? 0
    }

    /// Raw (unnormalised) projected embeddings of token sequences that already
    /// hold start/end tokens. Sequences are padded with `padId` to the longest
    /// one only: with a causal mask, later positions cannot change earlier ones.
    func embed(_ sequences: [[Int]], padId: Int) throws -> [[Float]] {
        guard !sequences.isEmpty else { return [] }
        let h = config.tower.hiddenSize
        let length = sequences.map(\.count).max()!
        guard length <= config.maxPositionEmbeddings else {
            throw CLIPInputError.sequenceTooLong(length: length, maximum: config.maxPositionEmbeddings)
        }
        let batch = sequences.count
        let padded = try sequences.map { ids -> [Int] in
            guard !ids.isEmpty else { throw CLIPInputError.emptySequence }
            for id in ids where id < 0 || id >= config.vocabSize {
                throw CLIPInputError.tokenOutOfRange(id: id, vocabularySize: config.vocabSize)
            }
            return ids + Array(repeating: padId, count: length - ids.count)
        }
        let hidden = Buffer(batch * length * h)
        for (b, ids) in padded.enumerated() {
            for (t, id) in ids.enumerated() {
                let row = hidden.pointer + (b * length + t) * h
                row.update(from: tokenEmbedding.pointer + id * h, count: h)
                Vector.add(positionEmbedding.pointer + t * h, into: row, h)
            }
        }
        encoder(hidden.pointer, batch: batch, length: length, causal: true)
        let pooled = Buffer(batch * h)
        for (b, ids) in padded.enumerated() {
            let index = poolingIndex(ids)
            // Only the pooled rows need the final LayerNorm (it is per row).
            finalLayerNorm(hidden.pointer + (b * length + index) * h, rows: 1, into: pooled.pointer + b * h)
        }
        return project(pooled, batch: batch, projection)
    }
}

/// transformers' `CLIPVisionTransformer` plus the visual projection.
struct VisionTower: Sendable {
    let config: VisionConfig
    let classEmbedding: Weight
    /// The patch convolution (stride = kernel = patch size) as a matrix over flattened patches.
    let patchEmbedding: Linear
    let positionEmbedding: Weight
    let preLayerNorm: LayerNorm
    let encoder: Encoder
    let postLayerNorm: LayerNorm
    let projection: Linear

    init(_ file: SafetensorsFile, _ config: VisionConfig, projectionDim: Int) throws {
        self.config = config
        let h = config.tower.hiddenSize, p = config.patchSize, c = config.numChannels
        classEmbedding = try file.weight("vision_model.embeddings.class_embedding", shape: [h])
        let conv = try file.weight("vision_model.embeddings.patch_embedding.weight", shape: [h, c, p, p])
        patchEmbedding = Linear(weight: conv.reshaped([h, c * p * p]))
        positionEmbedding = try file.weight("vision_model.embeddings.position_embedding.weight", shape: [config.numPositions, h])
        // "pre_layrnorm" is transformers' spelling.
        preLayerNorm = try LayerNorm(file, "vision_model.pre_layrnorm", size: h, eps: config.tower.layerNormEps)
        encoder = try Encoder(file, "vision_model.encoder", config.tower)
        postLayerNorm = try LayerNorm(file, "vision_model.post_layernorm", size: h, eps: config.tower.layerNormEps)
        projection = try Linear(file, "visual_projection", in: h, out: projectionDim, bias: false)
    }

    /// Values in one preprocessed image: channels × size × size, channel-major.
    var pixelsPerImage: Int { config.numChannels * config.imageSize * config.imageSize }

    /// Raw projected embeddings of preprocessed images laid out `[batch, channels, size, size]`.
    func embed(_ pixels: UnsafeBufferPointer<Float>) throws -> [[Float]] {
        guard pixels.count % pixelsPerImage == 0 else {
            throw CLIPInputError.wrongPixelCount(expected: pixelsPerImage, found: pixels.count)
        }
        let batch = pixels.count / pixelsPerImage
        guard batch > 0 else { return [] }
        let h = config.tower.hiddenSize, p = config.patchSize, c = config.numChannels
        let side = config.imageSize, grid = config.patchesPerSide
        let patchCount = grid * grid, patchSize = c * p * p
        let length = patchCount + 1

        // Gather each patch as one row ordered (channel, y, x), the conv weight's order.
        let patches = Buffer(batch * patchCount * patchSize)
        for b in 0..<batch {
            let image = pixels.baseAddress! + b * pixelsPerImage
            for gy in 0..<grid {
                for gx in 0..<grid {
                    var dst = patches.pointer + ((b * patchCount) + gy * grid + gx) * patchSize
                    for ch in 0..<c {
                        for y in 0..<p {
                            let src = image + ch * side * side + (gy * p + y) * side + gx * p
                            dst.update(from: src, count: p)
                            dst += p
                        }
                    }
                }
            }
        }
        let embedded = Buffer(batch * patchCount * h)
        patchEmbedding(patches.pointer, rows: batch * patchCount, into: embedded.pointer)

        let hidden = Buffer(batch * length * h)
        for b in 0..<batch {
            let seq = hidden.pointer + b * length * h
            seq.update(from: classEmbedding.pointer, count: h)
            (seq + h).update(from: embedded.pointer + b * patchCount * h, count: patchCount * h)
            for t in 0..<length { Vector.add(positionEmbedding.pointer + t * h, into: seq + t * h, h) }
        }
        preLayerNorm(hidden.pointer, rows: batch * length, into: hidden.pointer)
        encoder(hidden.pointer, batch: batch, length: length, causal: false)
        let pooled = Buffer(batch * h)
        for b in 0..<batch {
            postLayerNorm(hidden.pointer + b * length * h, rows: 1, into: pooled.pointer + b * h)
        }
        return project(pooled, batch: batch, projection)
    }
}

/// Applies a projection to `batch` pooled vectors and returns one array per vector.
private func project(_ pooled: Buffer, batch: Int, _ projection: Linear) -> [[Float]] {
    let out = Buffer(batch * projection.outFeatures)
    projection(pooled.pointer, rows: batch, into: out.pointer)
    return (0..<batch).map { Array(UnsafeBufferPointer(start: out.pointer + $0 * projection.outFeatures, count: projection.outFeatures)) }
}
