// Throughput of the CLIP module on a model directory (e.g. the random ViT-B/32-shaped
// model from `scripts/clip-fixtures.sh --full-size DIR`).
// Usage: clip-bench DIR [threads...]   (build with -c release)
// CLIP_BENCH_IMAGES=N: images per timed image measurement (default 32; the 32 images are reused).
import CLIP
import Foundation

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
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
print("model: \(dir.path)  load \(String(format: "%.3f", load)) s")
print("threads | input | batch | items/s")

// Captions of realistic length (10-20 tokens) and random-noise images of a photo's size.
let captions = (0..<64).map { "a photo of a \(["red", "small", "happy", "old"][$0 % 4]) \(["cat", "mushroom", "car", "house"][$0 / 4 % 4]) on a sunny day number \($0)" }
var rng = SystemRandomNumberGenerator()
let imagesPerRun = max(32, Int(ProcessInfo.processInfo.environment["CLIP_BENCH_IMAGES"] ?? "") ?? 32)
let images = (0..<32).map { _ in RGBImage(width: 320, height: 240, pixels: (0..<(320 * 240 * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) }) }

for threads in threadCounts {
    CLIPModel.setThreadCount(threads)
    for batch in [1, 16, 64] {
        _ = try model.embed(texts: Array(captions.prefix(batch)))  // warm-up
        var done = 0
        let t = try seconds { while done < 64 { _ = try model.embed(texts: Array(captions.prefix(batch))); done += batch } }
        print(String(format: "%7d | text  | %5d | %8.1f", threads, batch, Double(done) / t))
    }
    for batch in [1, 8, 16, 32] {
        _ = try model.embed(images: Array(images.prefix(batch)))
        var done = 0
        let t = try seconds { while done < imagesPerRun { _ = try model.embed(images: Array(images.prefix(batch))); done += batch } }
        print(String(format: "%7d | image | %5d | %8.1f", threads, batch, Double(done) / t))
    }
}
