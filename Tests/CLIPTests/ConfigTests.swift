import Foundation
import Testing
@testable import CLIP

@Suite struct ConfigTests {
    static func error(_ json: String) -> String {
        do { _ = try CLIPConfig(json: Data(json.utf8)); return "no error" } catch { return "\(error)" }
    }

    @Test func defaultsAreViTB32() throws {
        let c = try CLIPConfig(json: Data("{}".utf8))
        #expect(c.vision.imageSize == 224 && c.vision.patchSize == 32 && c.vision.tower.hiddenSize == 768)
        #expect(c.text.tower.hiddenSize == 512 && c.text.maxPositionEmbeddings == 77 && c.projectionDim == 512)
        #expect(c.vision.numPositions == 50)
    }

    @Test func otherArchitecturesComeFromTheConfig() throws {
        // ViT-L/14 at 336 px: nothing is fixed to B/32.
        let c = try CLIPConfig(json: Data("""
            {"projection_dim": 768,
             "text_config": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12},
             "vision_config": {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                               "num_hidden_layers": 24, "image_size": 336, "patch_size": 14}}
            """.utf8))
        #expect(c.vision.patchesPerSide == 24 && c.vision.numPositions == 577 && c.vision.tower.headDim == 64)
    }

    @Test func badConfigsAreExplained() {
        #expect(Self.error("[1]").contains("top level is not an object"))
        #expect(Self.error("{").contains("not valid JSON"))
        #expect(Self.error(#"{"vision_config": {"image_size": 225}}"#).contains("image_size 225 is not a multiple of patch_size 32"))
        #expect(Self.error(#"{"text_config": {"hidden_size": 100}}"#).contains("text_config.hidden_size 100 is not a multiple of num_attention_heads 8"))
        #expect(Self.error(#"{"text_config": {"num_hidden_layers": "twelve"}}"#).contains("text_config.num_hidden_layers must be a positive integer"))
        #expect(Self.error(#"{"vision_config": {"hidden_act": "relu"}}"#).contains("vision_config.hidden_act 'relu' is not supported"))
    }
}
