// Throughput of the CLIP module on a model directory (e.g. the random ViT-B/32-shaped
// model from `scripts/clip-fixtures.sh --full-size DIR`), and the share of what
// sgemm alone sustains that the image tower reaches.
// Usage: clip-bench DIR [threads...]   (build with -c release; bench/clip/run.sh runs it)
// CLIP_BENCH_IMAGES=N: images per timed image measurement (default 32; the 32 images are reused).
// Prints a table for people and, per measurement, one `json {...}` line for bench/clip/report.py.
import CLIP
import COpenBLAS
import Foundation

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func emit(_ fields: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    print("json " + String(decoding: data, as: UTF8.self))
}

/// Floating-point operations of one image through the vision tower's matrix
/// products (patch embedding, attention projections, attention itself, MLP,
/// projection), 2 per multiply-add. Layer norms, softmax and activations are
/// left out (under 1%): this is the work BLAS does, the number its peak applies to.
func visionFLOPs(_ config: CLIPConfig) -> Double {
    let v = config.vision, d = Double(v.tower.hiddenSize), ff = Double(v.tower.intermediateSize)
    let patches = Double(v.patchesPerSide * v.patchesPerSide), tokens = patches + 1
    let patchEmbedding = patches * Double(v.numChannels * v.patchSize * v.patchSize) * d
    let perLayer = 4 * tokens * d * d + 2 * tokens * tokens * d + 2 * tokens * d * ff
    return 2 * (patchEmbedding + Double(v.tower.numHiddenLayers) * perLayer + d * Double(config.projectionDim))
}

/// GFLOP/s of one `cblas_sgemm` of the given shape, best of `rounds` timed calls.
func sgemmGFLOPs(m: Int, n: Int, k: Int, rounds: Int = 5) -> Double {
    let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
    var c = [Float](repeating: 0, count: m * n)
    var best = Double.infinity
    for _ in 0...rounds {  // the first call warms up (thread start, page faults)
        let t = seconds {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                        1, a, Int32(k), b, Int32(k), 0, &c, Int32(n))
        }
        best = min(best, t)
    }
    return 2 * Double(m) * Double(n) * Double(k) / best / 1e9
}

let args = CommandLine.arguments
guard args.count >= 2 else {
    print("usage: clip-bench MODEL_DIR [threads...]")
    exit(2)
}
let dir = URL(fileURLWithPath: args[1])
let threadCounts = args.count > 2 ? args[2...].compactMap { Int($0) } : [1, 2]
var model: CLIPModel!
let load = try seconds { model = try CLIPModel(directory: dir) }
let flops = visionFLOPs(model.config)
print("model: \(dir.path)  load \(String(format: "%.3f", load)) s  vision tower \(String(format: "%.2f", flops / 1e9)) GFLOP/image")
print("OpenBLAS kernels: \(CLIPModel.matrixKernels)")
emit(["kind": "setup", "kernels": CLIPModel.matrixKernels, "load_s": load, "gflop_per_image": flops / 1e9])

// Captions of realistic length (10-20 tokens) and random-noise images of a photo's size.
let captions = (0..<64).map { "a photo of a \(["red", "small", "happy", "old"][$0 % 4]) \(["cat", "mushroom", "car", "house"][$0 / 4 % 4]) on a sunny day number \($0)" }
var rng = SystemRandomNumberGenerator()
let imagesPerRun = max(32, Int(ProcessInfo.processInfo.environment["CLIP_BENCH_IMAGES"] ?? "") ?? 32)
let images = (0..<32).map { _ in RGBImage(width: 320, height: 240, pixels: (0..<(320 * 240 * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) }) }

print("threads | input | batch | items/s")
for threads in threadCounts {
    CLIPModel.setThreadCount(threads)
    for batch in [1, 16, 64] {
        _ = try model.embed(texts: Array(captions.prefix(batch)))  // warm-up
        var done = 0
        let t = try seconds { while done < 64 { _ = try model.embed(texts: Array(captions.prefix(batch))); done += batch } }
        print(String(format: "%7d | text  | %5d | %8.1f", threads, batch, Double(done) / t))
        emit(["kind": "text", "threads": threads, "batch": batch, "per_s": Double(done) / t])
    }
    for batch in [1, 8, 16, 32] {
        _ = try model.embed(images: Array(images.prefix(batch)))
        var done = 0
        let t = try seconds { while done < imagesPerRun { _ = try model.embed(images: Array(images.prefix(batch))); done += batch } }
        print(String(format: "%7d | image | %5d | %8.1f", threads, batch, Double(done) / t))
        emit(["kind": "image", "threads": threads, "batch": batch, "per_s": Double(done) / t])
    }
    // sgemm alone: a large square product (the peak) and the tower's largest
    // product at batch 32 (MLP up-projection: 32 x tokens rows).
    let square = sgemmGFLOPs(m: 2048, n: 2048, k: 2048)
    let v = model.config.vision
    let mlp = sgemmGFLOPs(m: 32 * v.numPositions, n: v.tower.intermediateSize, k: v.tower.hiddenSize)
    print(String(format: "%7d | sgemm 2048^3 %.1f GFLOP/s, sgemm %dx%dx%d %.1f GFLOP/s", threads, square,
                 32 * v.numPositions, v.tower.intermediateSize, v.tower.hiddenSize, mlp))
    emit(["kind": "sgemm", "threads": threads, "square_gflops": square, "mlp_gflops": mlp])
}
