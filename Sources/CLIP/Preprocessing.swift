import Foundation

/// A decoded image: 8-bit RGB, rows top to bottom, pixels interleaved R, G, B.
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 3, "RGB buffer does not match \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// The settings of `preprocessor_config.json` that Hugging Face's
/// `CLIPImageProcessor` uses.
public struct PreprocessorConfig: Sendable, Equatable {
    public enum Resize: Sendable, Equatable {
        /// Scale so the shorter side has this length, keeping the aspect ratio.
        case shortestEdge(Int)
        /// Scale to exactly this size.
        case exact(height: Int, width: Int)
    }

    public var resize: Resize?
    public var crop: (height: Int, width: Int)?
    public var rescaleFactor: Double?
    public var mean: [Float]?
    public var std: [Float]?

    public static func == (a: Self, b: Self) -> Bool {
        a.resize == b.resize && a.crop?.height == b.crop?.height && a.crop?.width == b.crop?.width
            && a.rescaleFactor == b.rescaleFactor && a.mean == b.mean && a.std == b.std
    }

    /// OpenAI's CLIP preprocessing for a given input size (transformers' defaults).
    public static func openAI(size: Int) -> PreprocessorConfig {
        PreprocessorConfig(resize: .shortestEdge(size), crop: (size, size), rescaleFactor: 1.0 / 255.0,
                           mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711])
    }

    public init(resize: Resize?, crop: (height: Int, width: Int)?, rescaleFactor: Double?, mean: [Float]?, std: [Float]?) {
        self.resize = resize
        self.crop = crop
        self.rescaleFactor = rescaleFactor
        self.mean = mean
        self.std = std
    }

    /// Reads `preprocessor_config.json`; both the old (`"size": 224`) and the
    /// new (`{"shortest_edge": 224}`) spellings are accepted.
    public init(contentsOf url: URL) throws {
        let path = url.path
        guard let data = try? Data(contentsOf: url) else { throw CLIPLoadError.fileNotFound(path) }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CLIPLoadError.badConfig(path, "not a JSON object")
        }
        func bool(_ k: String, _ d: Bool) -> Bool { (json[k] as? NSNumber)?.boolValue ?? d }
        func size(_ value: Any?, key: String) throws -> (Int?, (Int, Int)?) {
            if let n = value as? NSNumber { return (n.intValue, nil) }
            if let d = value as? [String: Any] {
                if let s = (d["shortest_edge"] as? NSNumber)?.intValue { return (s, nil) }
                if let h = (d["height"] as? NSNumber)?.intValue, let w = (d["width"] as? NSNumber)?.intValue { return (nil, (h, w)) }
            }
            throw CLIPLoadError.badConfig(path, "\(key) must be a number, {shortest_edge} or {height, width}")
        }
        if let resample = (json["resample"] as? NSNumber)?.intValue, resample != 3 {
            throw CLIPLoadError.badConfig(path, "resample \(resample) is not supported (only 3, bicubic)")
        }
        resize = nil
        if bool("do_resize", true) {
            let (edge, hw) = try size(json["size"] ?? ["shortest_edge": 224], key: "size")
            resize = edge.map { .shortestEdge($0) } ?? hw.map { .exact(height: $0.0, width: $0.1) }
        }
        crop = nil
        if bool("do_center_crop", true) {
            let (edge, hw) = try size(json["crop_size"] ?? 224, key: "crop_size")
            crop = edge.map { ($0, $0) } ?? hw
        }
        rescaleFactor = bool("do_rescale", true) ? ((json["rescale_factor"] as? NSNumber)?.doubleValue ?? 1.0 / 255.0) : nil
        if bool("do_normalize", true) {
            let m = (json["image_mean"] as? [NSNumber])?.map(\.floatValue) ?? PreprocessorConfig.openAI(size: 1).mean!
            let s = (json["image_std"] as? [NSNumber])?.map(\.floatValue) ?? PreprocessorConfig.openAI(size: 1).std!
            guard m.count == 3, s.count == 3, !s.contains(0) else {
                throw CLIPLoadError.badConfig(path, "image_mean and image_std need 3 values (std non-zero)")
            }
            mean = m
            std = s
        } else {
            mean = nil
            std = nil
        }
    }
}

/// Turns decoded RGB images into the model's input tensor exactly as
/// transformers' slow `CLIPImageProcessor` does with Pillow: bicubic resize of
/// the shortest side, centre crop, rescale, normalise, channels first.
public struct ImagePreprocessor: Sendable {
    public let config: PreprocessorConfig

    public init(config: PreprocessorConfig) { self.config = config }

    /// transformers' `get_resize_output_image_size` with `default_to_square=False`:
    /// the long side is truncated, not rounded.
    public static func resizedSize(width: Int, height: Int, shortestEdge: Int) -> (width: Int, height: Int) {
        let short = min(width, height), long = max(width, height)
        let newLong = Int(Double(shortestEdge * long) / Double(short))
        return width <= height ? (shortestEdge, newLong) : (newLong, shortestEdge)
    }

    /// The size the resize step produces (the input size when there is none).
    func resizedSize(of image: RGBImage) -> (width: Int, height: Int) {
        switch config.resize {
        case .shortestEdge(let edge): return Self.resizedSize(width: image.width, height: image.height, shortestEdge: edge)
        case .exact(let h, let w): return (w, h)
        case nil: return (image.width, image.height)
        }
    }

    /// The resized and cropped 8-bit image, before rescaling (useful for inspection).
    ///
    /// Only the part of the resized image that the centre crop keeps is computed:
    /// each output pixel of Pillow's separable resize depends only on its own
    /// coefficients, so restricting both passes to the crop window gives the same
    /// bytes as resizing everything and cropping, without the intermediate image
    /// (60000x2 pixels would otherwise become 6.7 million x 224).
    public func resizedAndCropped(_ image: RGBImage) -> RGBImage {
        let size = resizedSize(of: image)
        guard let crop = config.crop else {
            return BicubicResampler.resize(image, width: size.width, height: size.height,
                                           rows: 0..<size.height, columns: 0..<size.width)
        }
        let rows = Self.cropWindow(size: size.height, crop: crop.height)
        let columns = Self.cropWindow(size: size.width, crop: crop.width)
        let window = BicubicResampler.resize(image, width: size.width, height: size.height, rows: rows.source, columns: columns.source)
        if window.width == crop.width && window.height == crop.height { return window }
        // The crop is larger than the resized image on some side: zero padding around the window.
        var out = [UInt8](repeating: 0, count: crop.width * crop.height * 3)
        let rowBytes = window.width * 3
        for y in 0..<window.height {
            let dst = ((rows.offset + y) * crop.width + columns.offset) * 3
            out.replaceSubrange(dst..<(dst + rowBytes), with: window.pixels[(y * rowBytes)..<((y + 1) * rowBytes)])
        }
        return RGBImage(width: crop.width, height: crop.height, pixels: out)
    }

    /// transformers' `center_crop` along one axis: the source positions it keeps
    /// and where the first of them lands in the output. Offsets are rounded down;
    /// an image smaller than the crop is padded with zeros, centred, the extra
    /// pixel at the end.
    static func cropWindow(size: Int, crop: Int) -> (source: Range<Int>, offset: Int) {
        let padded = max(crop, size)
        let pad = (padded - size + 1) / 2
        // Python's // rounds towards -infinity.
        let d = size - crop
        let start = (d >= 0 ? d / 2 : -((-d + 1) / 2)) + pad
        let first = start - pad
        let source = max(0, first)..<min(size, first + crop)
        return (source, source.lowerBound - first)
    }

    /// The model input for one image: `[3, height, width]` floats.
    public func callAsFunction(_ image: RGBImage) -> [Float] {
        let img = resizedAndCropped(image)
        let plane = img.width * img.height
        var out = [Float](repeating: 0, count: 3 * plane)
        let scale = config.rescaleFactor
        for i in 0..<plane {
            for c in 0..<3 {
                // transformers rescales in float64, then stores float32, then normalises in float32.
                var v = Float(img.pixels[3 * i + c])
                if let scale { v = Float(Double(img.pixels[3 * i + c]) * scale) }
                if let mean = config.mean, let std = config.std { v = (v - mean[c]) / std[c] }
                out[c * plane + i] = v
            }
        }
        return out
    }

    /// transformers' `center_crop`: offsets rounded down; an image smaller than the
    /// crop is first padded with zeros (black), centred with the extra pixel at the end.
    static func centerCrop(_ image: RGBImage, height: Int, width: Int) -> RGBImage {
        if image.width == width && image.height == height { return image }
        let newH = max(height, image.height), newW = max(width, image.width)
        // Offsets of the original inside the padded canvas (ceil, as transformers does).
        let padTop = (newH - image.height + 1) / 2, padLeft = (newW - image.width + 1) / 2
        // Python's // rounds towards -infinity.
        func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
        let top = floorDiv(image.height - height, 2) + padTop
        let left = floorDiv(image.width - width, 2) + padLeft
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let sy = top + y - padTop
            guard sy >= 0 && sy < image.height else { continue }
            for x in 0..<width {
                let sx = left + x - padLeft
                guard sx >= 0 && sx < image.width else { continue }
                for c in 0..<3 { out[(y * width + x) * 3 + c] = image.pixels[(sy * image.width + sx) * 3 + c] }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}

/// Pillow's `Image.resize(..., BICUBIC)` for 8-bit RGB: a separable convolution
/// (horizontal pass, then vertical), with the kernel widened by the scale factor
/// when shrinking (antialiasing), fixed-point weights, and rounding and clamping
/// to 8 bits after each pass.
enum BicubicResampler {
    /// Fractional bits of the fixed-point weights (Pillow's PRECISION_BITS).
    static let precisionBits = 32 - 8 - 2

    /// Keys' cubic with a = -0.5, support 2.
    static func cubic(_ x: Double) -> Double {
        let a = -0.5
        let x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// Per output position: first input index, number of taps, and fixed-point weights.
    struct Coefficients {
        var first: [Int]
        var taps: [Int]
        var weights: [Int32]
        var stride: Int
    }

    /// The coefficients of output positions `range` (index 0 is `range.lowerBound`);
    /// each position's are computed independently, so a sub-range gives the same
    /// values as the full one.
    static func coefficients(inSize: Int, outSize: Int, range: Range<Int>? = nil) -> Coefficients {
        let range = range ?? 0..<outSize
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 2 * filterScale
        let stride = Int(support.rounded(.up)) * 2 + 1
        var c = Coefficients(first: [], taps: [], weights: [Int32](repeating: 0, count: range.count * stride), stride: stride)
        var k = [Double](repeating: 0, count: stride)
        for (index, xx) in range.enumerated() {
            let center = (Double(xx) + 0.5) * scale
            // Int() truncates toward zero like C's cast.
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            // Multiplying by the reciprocal (not dividing) keeps the weights bit-identical to Pillow.
            let inverseScale = 1.0 / filterScale
            var total = 0.0
            for x in 0..<xmax {
                k[x] = cubic((Double(x + xmin) - center + 0.5) * inverseScale)
                total += k[x]
            }
            for x in 0..<xmax {
                let w = total != 0 ? k[x] / total : k[x]
                let fixed = w * Double(1 << precisionBits)
                c.weights[index * stride + x] = Int32(w < 0 ? fixed - 0.5 : fixed + 0.5)
            }
            c.first.append(xmin)
            c.taps.append(xmax)
        }
        return c
    }

    @inline(__always) static func clip8(_ v: Int32) -> UInt8 {
        if v >= Int32(1) << (precisionBits + 8) { return 255 }
        if v <= 0 { return 0 }
        return UInt8(v >> Int32(precisionBits))
    }

    /// The whole resized image (Pillow's `resize`).
    static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        resize(image, width: width, height: height, rows: 0..<height, columns: 0..<width)
    }

    /// The window `rows` x `columns` of `image` resized to `width` x `height`, computed
    /// without the rest: the horizontal pass makes only the window's columns, and only
    /// for the input rows the vertical pass reads for the window's rows.
    static func resize(_ image: RGBImage, width: Int, height: Int, rows: Range<Int>, columns: Range<Int>) -> RGBImage {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= height && columns.lowerBound >= 0 && columns.upperBound <= width)
        let verticalCoefficients = height != image.height ? coefficients(inSize: image.height, outSize: height, range: rows) : nil
        // Input rows the vertical pass reads (all of `rows` when there is none).
        var needed = rows
        if let v = verticalCoefficients, !rows.isEmpty {
            let lower = v.first.min()!
            let upper = zip(v.first, v.taps).map { $0 + $1 }.max()!
            needed = lower..<upper
        }
        var img: RGBImage
        if width != image.width {
            img = horizontal(image, to: width, rows: needed, columns: columns)
        } else {
            img = window(image, rows: needed, columns: columns)
        }
        if let v = verticalCoefficients { img = vertical(img, coefficients: v, firstRow: needed.lowerBound) }
        return img
    }

    /// Rows and columns of `image`, copied.
    static func window(_ image: RGBImage, rows: Range<Int>, columns: Range<Int>) -> RGBImage {
        if rows == 0..<image.height && columns == 0..<image.width { return image }
        var out: [UInt8] = []
        out.reserveCapacity(rows.count * columns.count * 3)
        for y in rows {
            let start = (y * image.width + columns.lowerBound) * 3
            out += image.pixels[start..<(start + columns.count * 3)]
        }
        return RGBImage(width: columns.count, height: rows.count, pixels: out)
    }

    static func horizontal(_ image: RGBImage, to width: Int, rows: Range<Int>, columns: Range<Int>) -> RGBImage {
        let c = coefficients(inSize: image.width, outSize: width, range: columns)
        let outWidth = columns.count
        var out = [UInt8](repeating: 0, count: outWidth * rows.count * 3)
        image.pixels.withUnsafeBufferPointer { src in
            for (oy, y) in rows.enumerated() {
                let row = y * image.width * 3
                for xx in 0..<outWidth {
                    var acc: (Int32, Int32, Int32) = (1 << Int32(precisionBits - 1), 1 << Int32(precisionBits - 1), 1 << Int32(precisionBits - 1))
                    let first = c.first[xx]
                    for t in 0..<c.taps[xx] {
                        let w = c.weights[xx * c.stride + t]
                        let p = row + (first + t) * 3
                        acc.0 &+= Int32(src[p]) &* w
                        acc.1 &+= Int32(src[p + 1]) &* w
                        acc.2 &+= Int32(src[p + 2]) &* w
                    }
                    let o = (oy * outWidth + xx) * 3
                    out[o] = clip8(acc.0); out[o + 1] = clip8(acc.1); out[o + 2] = clip8(acc.2)
                }
            }
        }
        return RGBImage(width: outWidth, height: rows.count, pixels: out)
    }

    /// The vertical pass for the output rows `c` describes; `image` holds the input
    /// rows from `firstRow` on.
    static func vertical(_ image: RGBImage, coefficients c: Coefficients, firstRow: Int) -> RGBImage {
        let height = c.first.count
        let rowBytes = image.width * 3
        var out = [UInt8](repeating: 0, count: rowBytes * height)
        image.pixels.withUnsafeBufferPointer { src in
            for yy in 0..<height {
                let first = c.first[yy] - firstRow
                for x in 0..<rowBytes {
                    var acc: Int32 = 1 << Int32(precisionBits - 1)
                    for t in 0..<c.taps[yy] {
                        acc &+= Int32(src[(first + t) * rowBytes + x]) &* c.weights[yy * c.stride + t]
                    }
                    out[yy * rowBytes + x] = clip8(acc)
                }
            }
        }
        return RGBImage(width: image.width, height: height, pixels: out)
    }
}
