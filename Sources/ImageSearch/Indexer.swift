import CLIP
import Foundation

/// What an `index` run did.
public struct IndexReport: Sendable {
    public var scanned = 0
    public var unchanged = 0
    /// New or changed files whose embedding was computed and stored.
    public var embedded = 0
    /// Files whose size or mtime changed but whose content did not.
    public var touched = 0
    public var pruned = 0
    /// Indexed files under the roots that no longer exist (without --prune).
    public var missing = 0
    public var failures: [(path: String, reason: String)] = []
    /// The symbolic links met below the folders.
    public var links = LinkCounts()
    public var seconds = 0.0
}

/// Thrown when `shouldStop` turned true: the batch in progress was rolled
/// back, every earlier batch is committed.
public struct IndexInterrupted: Error, CustomStringConvertible {
    public var description: String { "interrupted; the batch in progress was rolled back, a re-run resumes" }
}

/// Brings the database in line with folders of photos: embeds new and
/// changed files, batch by batch, one transaction per batch.
public final class Indexer {
    public struct Options: Sendable {
        /// The folders (or files) given, as their bytes.
        public var roots: [RawPath]
        public var prune = false
        public var batchSize = 16
        /// Photo libraries show photos upright, so embed them upright.
        public var applyEXIFOrientation = true

        public init(roots: [RawPath]) { self.roots = roots }
    }

    let library: Library
    let model: CLIPModel
    let options: Options
    let progress: ProgressDisplay

    public init(library: Library, model: CLIPModel, options: Options, progress: ProgressDisplay) {
        self.library = library
        self.model = model
        self.options = options
        self.progress = progress
    }

    /// What is stored for one path.
    struct StoredFile { var size: Int64, modifiedMicros: Int64, hash: String }

    /// The result of reading one file in the parallel stage.
    enum Prepared {
        case sameContent(hash: String)
        case image(hash: String, pixels: [Float], width: Int, height: Int, metadata: PhotoMetadata)
        case failed(String)
    }

    public func run(shouldStop: @escaping @Sendable () -> Bool) throws -> IndexReport {
        let started = Date()
        var report = IndexReport()
        let scan = FileScan.scan(roots: options.roots)
        let files = scan.files
        report.failures += scan.errors
        report.links = scan.links
        report.scanned = files.count
        let stored = try storedFiles()

        let work = files.filter { file in
            guard let old = stored[file.raw] else { return true }
            return old.size != file.size || old.modifiedMicros != file.modifiedMicros
        }
        report.unchanged = files.count - work.count
        try pruneOrCount(found: Set(files.map(\.raw)), stored: stored, report: &report)

        try library.connection.run(Schema.createStaging(dimension: library.model!.dimension))
        progress.start(total: work.count)
        // Batch n + 1 is read and decoded while batch n is embedded and
        // stored: the forward pass leaves a core partly idle outside its
        // matrix products, and file reads wait on the disk.
        let batches = stride(from: 0, to: work.count, by: options.batchSize).map {
            Array(work[$0..<min($0 + options.batchSize, work.count)])
        }
        let (model, orient) = (self.model, options.applyEXIFOrientation)
        func prefetch(_ batch: [ScannedFile]) -> Prefetch<[Prepared]> {
            Prefetch { Self.prepare(batch, stored: stored, model: model, applyEXIFOrientation: orient) }
        }
        var upcoming = batches.first.map(prefetch)
        var done = 0
        for (n, batch) in batches.enumerated() {
            if shouldStop() { throw IndexInterrupted() }
            let prepared = upcoming!.value
            upcoming = n + 1 < batches.count ? prefetch(batches[n + 1]) : nil
            try store(batch, prepared, report: &report, shouldStop: shouldStop)
            done += batch.count
            progress.update(done: done)
        }
        progress.finish()
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    private func storedFiles() throws -> [RawPath: StoredFile] {
        let rows = try library.connection.execute("""
            SELECT encode(path_bytes, 'hex'), size_bytes, (extract(epoch FROM modified_at) * 1000000)::bigint, content_hash
            FROM imgsearch.images
            """).rows
        var stored: [RawPath: StoredFile] = [:]
        stored.reserveCapacity(rows.count)
        for row in rows {
            stored[RawPath(byteaHex: row[0]!)!] = StoredFile(size: Int64(row[1]!)!, modifiedMicros: Int64(row[2]!)!, hash: row[3]!)
        }
        return stored
    }

    /// Rows under the roots whose files are gone: deleted with `prune`,
    /// counted otherwise.
    private func pruneOrCount(found: Set<RawPath>, stored: [RawPath: StoredFile], report: inout IndexReport) throws {
        let roots = options.roots.map(FileScan.canonicalPath)
        let gone = stored.keys.filter { path in
            !found.contains(path) && roots.contains { root in path.isInside(root) }
        }.sorted()
        guard options.prune else {
            report.missing = gone.count
            return
        }
        for start in stride(from: 0, to: gone.count, by: 1000) {
            let chunk = gone[start..<min(start + 1000, gone.count)].map(\.byteaLiteral)
            try library.connection.execute("DELETE FROM imgsearch.images WHERE path_bytes = ANY($1::bytea[])", [postgresArrayLiteral(chunk)])
        }
        report.pruned = gone.count
    }

    /// Reads, hashes, decodes and preprocesses a batch on all cores.
    static func prepare(_ batch: [ScannedFile], stored: [RawPath: StoredFile], model: CLIPModel,
                        applyEXIFOrientation: Bool) -> [Prepared] {
        let results = ResultSlots<Prepared>(count: batch.count)
        let decoder = ImageDecoder(applyEXIFOrientation: applyEXIFOrientation)
        DispatchQueue.concurrentPerform(iterations: batch.count) { i in
            let file = batch[i]
            let data: Data
            switch file.raw.readContents() {
            case .success(let contents): data = contents
            case .failure(let error):
                results[i] = .failed("cannot read file: \(error)")
                return
            }
            var hasher = SHA256()
            hasher.update(data)
            let hash = SHA256.hex(hasher.finalize())
            if stored[file.raw]?.hash == hash {
                results[i] = .sameContent(hash: hash)
                return
            }
            do {
                let image = try decoder.decode(data, name: file.path)
                let metadata = PhotoMetadata.read(data)
                results[i] = .image(hash: hash, pixels: model.preprocessor(image), width: image.width,
                                    height: image.height, metadata: metadata)
            } catch let error as ImageDecodeError {
                results[i] = .failed(error.reason)
            } catch {
                results[i] = .failed("\(error)")
            }
        }
        return results.values
    }

    /// Embeds the decoded images and writes the batch in one transaction.
    private func store(_ batch: [ScannedFile], _ prepared: [Prepared], report: inout IndexReport,
                       shouldStop: () -> Bool) throws {
        var pixels: [Float] = []
        var images: [(ScannedFile, String, Int, Int, PhotoMetadata)] = []
        var touched: [(ScannedFile, String)] = []
        var failures: [(path: String, reason: String)] = []
        for (file, result) in zip(batch, prepared) {
            switch result {
            case .failed(let reason): failures.append((file.path, reason))
            case .sameContent(let hash): touched.append((file, hash))
            case let .image(hash, values, width, height, metadata):
                pixels += values
                images.append((file, hash, width, height, metadata))
            }
        }
        let embeddings = images.isEmpty ? [] : try model.embed(pixelValues: pixels)
        if shouldStop() { throw IndexInterrupted() }

        let rows = zip(images, embeddings).map { image, embedding in
            StagedRow(file: image.0, hash: image.1, width: image.2, height: image.3, metadata: image.4, embedding: embedding)
        }
        do {
            try write(rows, touched: touched, shouldStop: shouldStop)
        } catch is DatabaseError where rows.count + touched.count > 1 {
            // One row the server refuses must not cost the others: write
            // each on its own and report the ones refused, with the reason.
            for row in rows {
                do {
                    try write([row], touched: [], shouldStop: shouldStop)
                    report.embedded += 1
                } catch let error as DatabaseError {
                    failures.append((row.file.path, "not stored: \(error.primary)"))
                }
            }
            for file in touched {
                do {
                    try write([], touched: [file], shouldStop: shouldStop)
                    report.touched += 1
                } catch let error as DatabaseError {
                    failures.append((file.0.path, "not stored: \(error.primary)"))
                }
            }
            report.failures += failures
            return
        } catch let error as DatabaseError {
            let path = rows.first?.file.path ?? touched.first?.0.path ?? "?"
            report.failures += failures + [(path, "not stored: \(error.primary)")]
            return
        }
        report.embedded += images.count
        report.touched += touched.count
        report.failures += failures
    }

    /// One embedded file, as it goes into the staging table.
    struct StagedRow {
        var file: ScannedFile
        var hash: String
        var width: Int, height: Int
        var metadata: PhotoMetadata
        var embedding: [Float]
    }

    /// Stores embedded rows and updates touched ones in one transaction.
    private func write(_ rows: [StagedRow], touched: [(ScannedFile, String)], shouldStop: () -> Bool) throws {
        var copy = CopyBinaryWriter()
        for row in rows {
            copy.beginRow(fieldCount: 10)
            copy.append(bytes: row.file.raw.bytes)
            copy.append(text: row.file.path)
            copy.append(text: row.hash)
            copy.append(int8: row.file.size)
            copy.append(timestampMicrosSince1970: row.file.modifiedMicros)
            copy.append(int4: Int32(row.width))
            copy.append(int4: Int32(row.height))
            if let taken = row.metadata.takenAt.flatMap(Self.wallClockMicros) {
                copy.append(timestampMicrosSince1970: taken)
            } else {
                copy.appendNull()
            }
            if let camera = row.metadata.camera { copy.append(text: camera) } else { copy.appendNull() }
            copy.append(vector: row.embedding)
        }
        copy.finish()

        let connection = library.connection
        try connection.transaction {
            try library.checkModelUnchanged()
            if !rows.isEmpty {
                try connection.copyIn(Schema.copyIntoStaging, data: copy.bytes)
                try connection.run(Schema.upsertFromStaging)
            }
            for (file, hash) in touched {
                try connection.execute("""
                    UPDATE imgsearch.images
                    SET size_bytes = $2, modified_at = to_timestamp($3::bigint / 1000000.0), content_hash = $4
                    WHERE path_bytes = $1::bytea
                    """, [file.raw.byteaLiteral, "\(file.size)", "\(file.modifiedMicros)", hash])
            }
            if shouldStop() { throw IndexInterrupted() }
        }
    }

    /// EXIF wall-clock time as microseconds since 1970 read as if UTC, which
    /// is how a `timestamp` (without time zone) is stored.
    static func wallClockMicros(_ c: DateComponents) -> Int64? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: c) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }
}

/// A value computed on another thread, waited for on first use.
final class Prefetch<T>: @unchecked Sendable {
    private var result: T?
    private let ready = DispatchSemaphore(value: 0)

    init(_ compute: @escaping @Sendable () -> T) {
        DispatchQueue.global().async {
            self.result = compute()
            self.ready.signal()
        }
    }

    /// Blocks until the value is there; call once.
    var value: T {
        ready.wait()
        return result!
    }
}

/// Fixed slots that concurrent workers fill by index.
final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    subscript(i: Int) -> T? {
        get { lock.withLock { slots[i] } }
        set { lock.withLock { slots[i] = newValue } }
    }

    var values: [T] { lock.withLock { slots.map { $0! } } }
}
