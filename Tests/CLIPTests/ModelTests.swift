import Foundation
import Testing
@testable import CLIP

/// Raw embeddings compared with transformers' `get_text_features` / `get_image_features`.
@Suite struct ModelTests {
    struct Reference {
        var texts: [(text: String, ids: [Int], embedding: [Float])]
        var images: [(name: String, pixels: String, embedding: [Float])]
    }

    /// The fixture models share the vocabulary files one directory up. Their
    /// reference ids come from transformers 4.57's slow tokenizer.
    static func load(_ name: String) throws -> CLIPModel {
        try CLIPModel(directory: Fixtures.url(name), tokenizer: TokenizerTests.slow)
    }

    static func reference(_ model: String) throws -> Reference {
        let json = try Fixtures.json("\(model)/reference.json") as! [String: Any]
        let texts = (json["texts"] as! [[String: Any]]).map {
            ($0["text"] as! String, ($0["ids"] as! [NSNumber]).map(\.intValue), ($0["embedding"] as! [NSNumber]).map(\.floatValue))
        }
        let images = (json["images"] as! [[String: Any]]).map {
            ($0["image"] as! String, $0["pixels"] as! String, ($0["embedding"] as! [NSNumber]).map(\.floatValue))
        }
        return Reference(texts: texts, images: images)
    }

    static func image(_ name: String) throws -> RGBImage {
        let meta = try Fixtures.json("images/images.json") as! [String: [String: Int]]
        let data = try Data(contentsOf: Fixtures.url("images/\(name).rgb"))
        return RGBImage(width: meta[name]!["width"]!, height: meta[name]!["height"]!, pixels: [UInt8](data))
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a, b) { dot += Double(x) * Double(y); na += Double(x * x); nb += Double(y * y) }
        return dot / (na.squareRoot() * nb.squareRoot())
    }

    static func maxAbs(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    /// Checks the tolerances and returns (cosine, max abs error) for reporting.
    @discardableResult
    static func expectClose(_ got: [Float], _ want: [Float], _ what: String) -> (Double, Float) {
        #expect(got.count == want.count, "\(what): length")
        let c = cosine(got, want), e = maxAbs(got, want)
        defer { print("accuracy \(what): cosine \(c) max-abs \(e)") }
        #expect(c >= 0.99999, "\(what): cosine \(c)")
        #expect(e <= 1e-4, "\(what): max abs error \(e)")
        return (c, e)
    }

    @Test(arguments: ["model_a", "model_b"])
    func textEmbeddingsMatchTransformers(model name: String) throws {
        let model = try Self.load(name)
        let ref = try Self.reference(name)
        // Tokenizer output must equal the padded ids the reference used.
        for t in ref.texts { #expect(model.tokenizer.encodePadded(t.text) == t.ids, "ids of \(t.text.debugDescription)") }
        // Batched from text, and one at a time from the full padded ids.
        let batched = try model.embed(texts: ref.texts.map(\.text), normalize: false)
        for (t, got) in zip(ref.texts, batched) { Self.expectClose(got, t.embedding, "\(name) text \(t.text.debugDescription)") }
        for t in ref.texts {
            let single = try model.embed(tokenSequences: [t.ids], normalize: false)[0]
            Self.expectClose(single, t.embedding, "\(name) padded ids \(t.text.debugDescription)")
        }
    }

    @Test(arguments: ["model_a", "model_b"])
    func imageEmbeddingsMatchTransformers(model name: String) throws {
        let model = try Self.load(name)
        let ref = try Self.reference(name)
        // From transformers' own pixel tensors: isolates the vision tower.
        var batch: [Float] = []
        for r in ref.images { batch += try Fixtures.floats("\(name)/\(r.pixels)") }
        let fromPixels = try model.embed(pixelValues: batch, normalize: false)
        #expect(fromPixels.count == ref.images.count)
        for (r, got) in zip(ref.images, fromPixels) { Self.expectClose(got, r.embedding, "\(name) pixels \(r.name)") }
        // End to end from the RGB images.
        let images = try ref.images.map { try Self.image($0.name) }
        let fromImages = try model.embed(images: images, normalize: false)
        for (r, got) in zip(ref.images, fromImages) { Self.expectClose(got, r.embedding, "\(name) image \(r.name)") }
    }

    @Test func normalisedByDefault() throws {
        let model = try Self.load("model_a")
        let v = try model.embed(texts: ["a photo of a cat"])[0]
        let norm = v.reduce(0) { $0 + Double($1 * $1) }.squareRoot()
        #expect(abs(norm - 1) < 1e-5)
        let raw = try model.embed(texts: ["a photo of a cat"], normalize: false)[0]
        Self.expectClose(CLIPModel.normalized(raw), v, "normalised")
    }

    @Test func configIsRead() throws {
        let a = try CLIPConfig(contentsOf: Fixtures.url("model_a/config.json"))
        #expect(a.text.tower.hiddenSize == 8 && a.text.tower.numHiddenLayers == 3 && a.text.tower.numAttentionHeads == 2)
        #expect(a.vision.imageSize == 32 && a.vision.patchSize == 8 && a.vision.tower.hiddenSize == 32)
        #expect(a.projectionDim == 24 && a.text.eosTokenId == 49407 && a.text.tower.hiddenAct == .quickGELU)
        let b = try CLIPConfig(contentsOf: Fixtures.url("model_b/config.json"))
        #expect(b.text.eosTokenId == 2 && b.text.tower.hiddenAct == .gelu && b.vision.tower.layerNormEps == 1e-6)
    }

    @Test func badInputsAreRejected() throws {
        let model = try Self.load("model_a")
        #expect(throws: CLIPInputError.tokenOutOfRange(id: 49408, vocabularySize: 49408)) {
            try model.embed(tokenSequences: [[49406, 49408, 49407]])
        }
        #expect(throws: CLIPInputError.sequenceTooLong(length: 78, maximum: 77)) {
            try model.embed(tokenSequences: [Array(repeating: 320, count: 78)])
        }
        #expect(throws: CLIPInputError.wrongPixelCount(expected: 3 * 32 * 32, found: 5)) {
            try model.embed(pixelValues: [0, 0, 0, 0, 0])
        }
    }
}
