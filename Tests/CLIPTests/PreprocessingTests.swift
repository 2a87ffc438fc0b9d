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

    /// Deterministic noise, so every tap of the filter matters.
    static func noise(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var state = seed
        let pixels = (0..<(width * height * 3)).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// The crop-window computation equals resizing everything and then cropping
    /// (the transformers reference): up- and downscaling, odd sizes, extreme aspect
    /// ratios, an exact resize, crops larger than the resized image, no resize.
    @Test func cropWindowEqualsFullResizeThenCrop() {
        let configs: [PreprocessorConfig] = [
            .openAI(size: 32), .openAI(size: 64), .openAI(size: 31),
            PreprocessorConfig(resize: .exact(height: 20, width: 11), crop: (32, 32), rescaleFactor: nil, mean: nil, std: nil),
            PreprocessorConfig(resize: .exact(height: 45, width: 70), crop: (33, 21), rescaleFactor: nil, mean: nil, std: nil),
            PreprocessorConfig(resize: nil, crop: (17, 40), rescaleFactor: nil, mean: nil, std: nil),
        ]
        let sizes = [(1, 1), (2, 3), (13, 9), (97, 61), (40, 71), (33, 32), (31, 32), (301, 157), (3, 500), (500, 3), (1, 1000), (257, 255)]
        for (n, config) in configs.enumerated() {
            let pre = ImagePreprocessor(config: config)
            for (w, h) in sizes {
                let img = Self.noise(width: w, height: h, seed: UInt64(w * 1000 + h))
                let size = pre.resizedSize(of: img)
                let full = ImagePreprocessor.centerCrop(BicubicResampler.resize(img, width: size.width, height: size.height),
                                                        height: config.crop!.height, width: config.crop!.width)
                #expect(pre.resizedAndCropped(img) == full, "config \(n), \(w)x\(h)")
            }
        }
    }

    /// A 60000x2 image (resized to about 6.7 million x 224 before the crop) only
    /// computes the 224x224 window: the intermediate of the horizontal pass holds
    /// the window's columns for the two input rows the vertical pass reads.
    @Test func extremeAspectRatiosComputeOnlyTheWindow() {
        let pre = ImagePreprocessor(config: .openAI(size: 224))
        for (w, h) in [(60000, 2), (2, 60000)] {
            let img = Self.noise(width: w, height: h, seed: 3)
            let size = pre.resizedSize(of: img)
            #expect(size.width * size.height >= 1_500_000_000)
            let rows = ImagePreprocessor.cropWindow(size: size.height, crop: 224)
            let columns = ImagePreprocessor.cropWindow(size: size.width, crop: 224)
            #expect(rows.source.count == 224 && columns.source.count == 224)
            let out = pre.resizedAndCropped(img)
            #expect(out.width == 224 && out.height == 224)
            // The same pixels as a resize of just the input around the centre, which
            // the full computation would give (each output depends on 4 input pixels).
            let v = BicubicResampler.coefficients(inSize: h, outSize: size.height, range: rows.source)
            #expect(v.stride * 224 < 10_000)
        }
    }
}
