import Foundation
import Testing
@testable import CLIP

@Suite struct PreprocessingTests {
    /// Pixel tensors from transformers' slow CLIPImageProcessor (Pillow bicubic).
    @Test(arguments: ["model_a", "model_b"])
    func matchesTransformers(model name: String) throws {
        let pre = ImagePreprocessor(config: try PreprocessorConfig(contentsOf: Fixtures.url("\(name)/preprocessor_config.json")))
        let ref = try ModelTests.reference(name)
        for r in ref.images {
            let want = try Fixtures.floats("\(name)/\(r.pixels)")
            let got = pre(try ModelTests.image(r.name))
            #expect(got.count == want.count)
            // Pillow's integer arithmetic is reproduced, so the values are identical;
            // allow float rounding only.
            let err = ModelTests.maxAbs(got, want)
            #expect(err <= 1e-6, "\(name) \(r.name): max abs error \(err)")
        }
    }

    @Test func resizeKeepsAspectAndTruncates() {
        #expect(ImagePreprocessor.resizedSize(width: 97, height: 61, shortestEdge: 32) == (50, 32))
        #expect(ImagePreprocessor.resizedSize(width: 40, height: 71, shortestEdge: 64) == (64, 113))
    }

    @Test func centerCropPadsSmallImages() {
        let img = RGBImage(width: 1, height: 1, pixels: [10, 20, 30])
        let out = ImagePreprocessor.centerCrop(img, height: 2, width: 3)
        // Canvas 3x2, original at (ceil(2/2), ceil(1/2)) = (1, 1).
        #expect(out.pixels == [0, 0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 10, 20, 30, 0, 0, 0])
    }
}
