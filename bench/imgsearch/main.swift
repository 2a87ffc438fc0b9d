// Timings behind bench/imgsearch/run.sh (build with -c release).
//
//   imgsearch-bench prepare --model DIR [--batch-size 16] [--threads 2] [--db CONNINFO] FOLDER...
//       The indexer's pipeline stage by stage, one after the other: per batch, the
//       parallel stage of `imgsearch index` (read, SHA-256, decode, EXIF, preprocess on
//       all cores, as Indexer.prepare does it), then the forward pass (embed(pixelValues:)),
//       then, with --db (a fresh database), the transaction Indexer.store runs (binary COPY
//       into a staging table, INSERT into imgsearch.images and its HNSW index).
//   imgsearch-bench search --model DIR --db CONNINFO --queries FILE [--count 200] [--threads 2]
//                          [--limit 10] [--path-glob GLOB] [--after DATE]
//       Loads the model once and times, per query, the text embedding and Library.search
//       without a filter, with a path glob and with a date filter.
//
// Both print a human-readable summary and, as the last line, one JSON object.
import CLIP
import Foundation
import ImageSearch

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
func seconds(since start: UInt64) -> Double { Double(now() - start) / 1e9 }

/// User + system CPU seconds of the whole process so far (all threads).
func processCPU() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("imgsearch-bench: \(message)\n".utf8))
    exit(2)
}

/// `--name value` options and positional arguments.
struct Arguments {
    var options: [String: String] = [:]
    var positional: [String] = []

    init(_ args: ArraySlice<String>) {
        var i = args.startIndex
        while i < args.endIndex {
            if args[i].hasPrefix("--"), i + 1 < args.endIndex {
                options[String(args[i].dropFirst(2))] = args[i + 1]
                i += 2
            } else {
                positional.append(args[i])
                i += 1
            }
        }
    }

    func string(_ name: String) -> String {
        guard let value = options[name] else { fail("--\(name) is required") }
        return value
    }

    func int(_ name: String, default value: Int) -> Int {
        guard let text = options[name] else { return value }
        guard let n = Int(text), n > 0 else { fail("--\(name) must be a positive integer") }
        return n
    }
}

/// Linear-interpolated percentile (numpy's default) of unsorted values.
func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard sorted.count > 1 else { return sorted.first ?? .nan }
    let rank = p / 100 * Double(sorted.count - 1)
    let low = Int(rank.rounded(.down)), high = min(low + 1, sorted.count - 1)
    return sorted[low] + (sorted[high] - sorted[low]) * (rank - Double(low))
}

func summary(_ values: [Double]) -> [String: Double] {
    ["p50": percentile(values, 50), "p95": percentile(values, 95),
     "mean": values.reduce(0, +) / Double(values.count), "min": values.min()!, "max": values.max()!]
}

func printJSON(_ object: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

func loadModel(_ arguments: Arguments) -> (CLIPModel, Double) {
    CLIPModel.setThreadCount(arguments.int("threads", default: 2))
    let start = now()
    do {
        let model = try CLIPModel(directory: URL(fileURLWithPath: arguments.string("model")))
        return (model, seconds(since: start))
    } catch {
        fail("cannot load the model: \(error)")
    }
}

/// Per-phase CPU time summed over the worker threads, in seconds.
final class PhaseClock: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var totals: [String: Double] = [:]

    func add(_ phase: String, _ nanoseconds: UInt64) {
        lock.withLock { totals[phase, default: 0] += Double(nanoseconds) / 1e9 }
    }
}

/// What the parallel stage produced for one file.
struct Prepared {
    var pixels: [Float], hash: String, width: Int, height: Int, metadata: PhotoMetadata
}

final class Slots: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Prepared?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    subscript(i: Int) -> Prepared? {
        get { lock.withLock { values[i] } }
        set { lock.withLock { values[i] = newValue } }
    }
}

func prepareCommand(_ arguments: Arguments) throws {
    let (model, loadSeconds) = loadModel(arguments)
    let batchSize = arguments.int("batch-size", default: 16)
    guard !arguments.positional.isEmpty else { fail("give the folders of images") }
    let scanStart = now()
    let (files, errors) = FileScan.scan(roots: arguments.positional)
    let scanSeconds = seconds(since: scanStart)
    guard errors.isEmpty, !files.isEmpty else { fail("scan: \(files.count) files, errors \(errors)") }

    var library: Library?
    if let db = arguments.options["db"] {
        let connection = try Connection(db)
        let identity = try ModelIdentity(directory: arguments.string("model"), dimension: model.config.projectionDim)
        library = try Library(connection: connection, model: identity, create: true)
        try connection.run(Schema.createStaging(dimension: identity.dimension))
    }
    let decoder = ImageDecoder(applyEXIFOrientation: true)
    let clock = PhaseClock()
    var prepareWall = 0.0, embedWall = 0.0, storeWall = 0.0, failures = 0, pixelsDecoded = 0
    var prepareCPU = 0.0, embedCPU = 0.0
    let started = now()
    for start in stride(from: 0, to: files.count, by: batchSize) {
        let batch = Array(files[start..<min(start + batchSize, files.count)])
        let slots = Slots(count: batch.count)
        let t0 = now(), c0 = processCPU()
        // As Indexer.prepare: read, hash, decode, EXIF, preprocess, on all cores.
        DispatchQueue.concurrentPerform(iterations: batch.count) { i in
            var t = now()
            func lap(_ phase: String) { let n = now(); clock.add(phase, n - t); t = n }
            guard let data = FileManager.default.contents(atPath: batch[i].path) else { return }
            lap("read")
            var hasher = SHA256()
            hasher.update(data)
            let hash = SHA256.hex(hasher.finalize())
            lap("sha256")
            guard let image = try? decoder.decode(data, name: batch[i].path) else { return }
            lap("decode")
            let metadata = PhotoMetadata.read(data)
            lap("exif")
            slots[i] = Prepared(pixels: model.preprocessor(image), hash: hash, width: image.width,
                                height: image.height, metadata: metadata)
            lap("preprocess")
        }
        var pixels: [Float] = []
        var stored: [(ScannedFile, Prepared)] = []
        for i in 0..<batch.count {
            if let prepared = slots[i] {
                pixels += prepared.pixels
                pixelsDecoded += prepared.width * prepared.height
                stored.append((batch[i], prepared))
            } else {
                failures += 1
            }
        }
        let t1 = now(), c1 = processCPU()
        prepareWall += Double(t1 - t0) / 1e9
        prepareCPU += c1 - c0
        let embeddings = pixels.isEmpty ? [] : try model.embed(pixelValues: pixels)
        embedWall += seconds(since: t1)
        embedCPU += processCPU() - c1
        if let library, !embeddings.isEmpty {
            let t2 = now()
            try store(stored, embeddings, library.connection)
            storeWall += seconds(since: t2)
        }
    }
    let total = seconds(since: started)
    let embedded = files.count - failures
    let phases = clock.totals
    print("images \(files.count) (failed \(failures)), batch \(batchSize), model load \(String(format: "%.2f", loadSeconds)) s, scan \(String(format: "%.3f", scanSeconds)) s")
    print(String(format: "total %.2f s = parallel stage %.2f s + forward pass %.2f s + store %.2f s (+ %.2f s other); %.1f images/s; forward pass alone %.1f images/s",
                 total, prepareWall, embedWall, storeWall, total - prepareWall - embedWall - storeWall, Double(embedded) / total, Double(embedded) / embedWall))
    print(String(format: "process CPU seconds: parallel stage %.2f (%.2f cores busy), forward pass %.2f (%.2f cores busy)",
                 prepareCPU, prepareCPU / prepareWall, embedCPU, embedCPU / embedWall))
    print("CPU seconds in the parallel stage, summed over threads: " + phases.keys.sorted().map { "\($0) \(String(format: "%.2f", phases[$0]!))" }.joined(separator: ", "))
    printJSON(["images": files.count, "failed": failures, "batch": batchSize, "model_load_s": loadSeconds,
               "scan_s": scanSeconds, "total_s": total, "prepare_wall_s": prepareWall, "embed_wall_s": embedWall, "store_wall_s": storeWall, "stored": library != nil,
               "prepare_process_cpu_s": prepareCPU, "embed_process_cpu_s": embedCPU,
               "megapixels": Double(pixelsDecoded) / 1e6, "cpu_s": phases])
}

/// The transaction of Indexer.store for new images (same statements).
func store(_ files: [(ScannedFile, Prepared)], _ embeddings: [[Float]], _ connection: Connection) throws {
    var copy = CopyBinaryWriter()
    var utc = Calendar(identifier: .gregorian)
    utc.timeZone = TimeZone(identifier: "UTC")!
    for ((file, prepared), embedding) in zip(files, embeddings) {
        copy.beginRow(fieldCount: 9)
        copy.append(text: file.path)
        copy.append(text: prepared.hash)
        copy.append(int8: file.size)
        copy.append(timestampMicrosSince1970: file.modifiedMicros)
        copy.append(int4: Int32(prepared.width))
        copy.append(int4: Int32(prepared.height))
        if let taken = prepared.metadata.takenAt.flatMap({ utc.date(from: $0) }) {
            copy.append(timestampMicrosSince1970: Int64((taken.timeIntervalSince1970 * 1_000_000).rounded()))
        } else {
            copy.appendNull()
        }
        if let camera = prepared.metadata.camera { copy.append(text: camera) } else { copy.appendNull() }
        copy.append(vector: embedding)
    }
    copy.finish()
    try connection.transaction {
        try connection.copyIn(Schema.copyIntoStaging, data: copy.bytes)
        try connection.run(Schema.upsertFromStaging)
    }
}

func searchCommand(_ arguments: Arguments) throws {
    let (model, loadSeconds) = loadModel(arguments)
    let count = arguments.int("count", default: 200)
    let limit = arguments.int("limit", default: 10)
    let texts = try String(contentsOfFile: arguments.string("queries"), encoding: .utf8)
        .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
    guard !texts.isEmpty else { fail("no queries in \(arguments.string("queries"))") }
    // Distinct texts beyond the file's: each round through the file with another prefix.
    let prefixes = ["", "a photo of ", "a drawing of ", "an image showing ", "a picture of "]
    let queries = (0..<count).map { prefixes[$0 / texts.count % prefixes.count] + texts[$0 % texts.count] }

    let connectStart = now()
    let connection = try Connection(arguments.string("db"))
    let identity = try ModelIdentity(directory: arguments.string("model"), dimension: model.config.projectionDim)
    let library = try Library(connection: connection, model: identity, create: false)
    let connectSeconds = seconds(since: connectStart)
    guard library.isInitialized else { fail("nothing indexed in this database") }
    let rows = try connection.execute("SELECT count(*) FROM imgsearch.images").scalar ?? "?"

    let filters: [(String, SearchFilter)] = [
        ("path_glob", SearchFilter(pathGlob: arguments.options["path-glob"] ?? "*/clipart/*")),
        ("after", SearchFilter(after: arguments.options["after"] ?? "2024-01-01")),
    ]
    var selectivity: [String: Double] = [:]
    for (name, filter) in filters {
        // Same WHERE clause as the search, counted once.
        let conditions = name == "path_glob"
            ? ("path LIKE $1", [filter.pathGlob!.replacingOccurrences(of: "*", with: "%").replacingOccurrences(of: "?", with: "_")])
            : ("coalesce(taken_at, modified_at::timestamp) >= $1::timestamp", [filter.after!])
        let matching = try connection.execute("SELECT count(*) FROM imgsearch.images WHERE \(conditions.0)", conditions.1).scalar ?? "0"
        selectivity[name] = Double(matching)! / Double(rows)!
    }

    for text in queries.prefix(5) {  // warm-up: caches, OpenBLAS threads, prepared plans
        let embedding = try model.embed(texts: [text])[0]
        _ = try library.search(embedding: embedding, filter: SearchFilter(), limit: limit)
        for (_, filter) in filters { _ = try library.search(embedding: embedding, filter: filter, limit: limit) }
    }
    var timings: [String: [Double]] = [:]
    var shortResults: [String: Int] = [:]
    for text in queries {
        let t0 = now()
        let embedding = try model.embed(texts: [text])[0]
        let t1 = now()
        let hits = try library.search(embedding: embedding, filter: SearchFilter(), limit: limit)
        let t2 = now()
        timings["embed", default: []].append(Double(t1 - t0) / 1e6)
        timings["search", default: []].append(Double(t2 - t1) / 1e6)
        timings["embed+search", default: []].append(Double(t2 - t0) / 1e6)
        if hits.count < limit { shortResults["search", default: 0] += 1 }
        for (name, filter) in filters {
            let t3 = now()
            let filtered = try library.search(embedding: embedding, filter: filter, limit: limit)
            timings["search " + name, default: []].append(Double(now() - t3) / 1e6)
            if filtered.count < limit { shortResults[name, default: 0] += 1 }
        }
    }
    // The plans of the three statements, as Library.search builds them (same SQL and
    // parameters, vbase mode), for the first query's embedding.
    let embedding = try model.embed(texts: [queries[0]])[0]
    let literal = "[" + embedding.map { "\($0)" }.joined(separator: ",") + "]"
    let shapes: [(String, String, [String])] = [
        ("no filter", "", []),
        ("path_glob", "WHERE path LIKE $3", [filters[0].1.pathGlob!.replacingOccurrences(of: "*", with: "%")]),
        ("after", "WHERE coalesce(taken_at, modified_at::timestamp) >= $3::timestamp", [filters[1].1.after!]),
    ]
    var plans: [String: String] = [:]
    for (name, condition, parameters) in shapes {
        let plan = try connection.transaction {
            try connection.run("SET LOCAL vectors.search_mode = vbase")
            return try connection.execute("""
                EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
                SELECT path, embedding <=> $1::vector, taken_at::text, camera
                FROM imgsearch.images \(condition)
                ORDER BY embedding <=> $1::vector
                LIMIT $2
                """, [literal, "\(limit)"] + parameters).rows.map { $0[0] ?? "" }.joined(separator: "\n")
        }
        plans[name] = plan
        print("plan, \(name):\n\(plan)")
    }
    print("rows \(rows), \(queries.count) queries, limit \(limit), model load \(String(format: "%.2f", loadSeconds)) s, connect+open \(String(format: "%.3f", connectSeconds)) s")
    print("filters: " + filters.map { "\($0.0) \($0.1.pathGlob ?? $0.1.after!) (\(String(format: "%.1f", 100 * selectivity[$0.0]!))% of rows)" }.joined(separator: ", "))
    print("ms        |    p50 |    p95 |   mean")
    let order = ["embed", "search", "embed+search"] + filters.map { "search " + $0.0 }
    for name in order {
        let s = summary(timings[name]!)
        print(name.padding(toLength: 18, withPad: " ", startingAt: 0) + String(format: "| %6.2f | %6.2f | %6.2f", s["p50"]!, s["p95"]!, s["mean"]!))
    }
    if !shortResults.isEmpty { print("queries with fewer than \(limit) results: \(shortResults)") }
    printJSON(["rows": Int(rows) ?? -1, "queries": queries.count, "limit": limit, "model_load_s": loadSeconds,
               "connect_s": connectSeconds, "selectivity": selectivity,
               "filters": Dictionary(uniqueKeysWithValues: filters.map { ($0.0, $0.1.pathGlob ?? $0.1.after!) }),
               "ms": Dictionary(uniqueKeysWithValues: order.map { ($0, summary(timings[$0]!)) }),
               "short_results": shortResults, "plans": plans])
}

let args = CommandLine.arguments
switch args.count > 1 ? args[1] : "" {
case "prepare": try prepareCommand(Arguments(args[2...]))
case "search": try searchCommand(Arguments(args[2...]))
default:
    print("usage: imgsearch-bench prepare|search ... (see bench/imgsearch/main.swift)")
    exit(2)
}
