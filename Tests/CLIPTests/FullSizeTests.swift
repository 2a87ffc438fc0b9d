import Foundation
import Testing
@testable import CLIP

/// The same comparisons on a random-weight model of the real ViT-B/32 shape
/// (12+12 layers, hidden 512/768, 224 px). Too large to commit: make it with
/// `scripts/clip-fixtures.sh --full-size DIR` and set CLIP_FULL_MODEL_DIR=DIR.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["CLIP_FULL_MODEL_DIR"] != nil, "set CLIP_FULL_MODEL_DIR"))
struct FullSizeTests {
    static var directory: URL { URL(fileURLWithPath: ProcessInfo.processInfo.environment["CLIP_FULL_MODEL_DIR"]!) }

    static func reference() throws -> ModelTests.Reference {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("reference.json"))) as! [String: Any]
        return ModelTests.Reference(
            texts: (json["texts"] as! [[String: Any]]).map {
                ($0["text"] as! String, ($0["ids"] as! [NSNumber]).map(\.intValue), ($0["embedding"] as! [NSNumber]).map(\.floatValue))
            },
            images: (json["images"] as! [[String: Any]]).map {
                ($0["image"] as! String, $0["pixels"] as! String, ($0["embedding"] as! [NSNumber]).map(\.floatValue))
            })
    }

    /// The committed test images, plus a photo-sized PNG that only the full-size run writes.
    static func image(_ name: String) throws -> RGBImage {
        if name == "large" { return try ImageDecoder().decode(contentsOf: directory.appendingPathComponent("large.png")) }
        return try ModelTests.image(name)
    }

    @Test func vitB32ShapedModelMatchesTransformers() throws {
        // generate.py --full-size makes its reference ids with transformers 4.57's slow tokenizer.
        let model = try CLIPModel(directory: Self.directory, textCleaning: .transformersSlow)
        #expect(model.config.vision.tower.numHiddenLayers == 12 && model.config.vision.patchSize == 32)
        let ref = try Self.reference()
        let texts = try model.embed(texts: ref.texts.map(\.text), normalize: false)
        for (t, got) in zip(ref.texts, texts) { ModelTests.expectClose(got, t.embedding, "ViT-B/32 text \(t.text.debugDescription)") }
        let images = try model.embed(images: ref.images.map { try Self.image($0.name) }, normalize: false)
        for (r, got) in zip(ref.images, images) { ModelTests.expectClose(got, r.embedding, "ViT-B/32 image \(r.name)") }
        for r in ref.images {
            let pixels = try Data(contentsOf: Self.directory.appendingPathComponent(r.pixels))
            let want = pixels.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let got = model.preprocessor(try Self.image(r.name))
            #expect(ModelTests.maxAbs(got, want) <= 1e-6, "224px preprocessing \(r.name)")
        }
    }
}
