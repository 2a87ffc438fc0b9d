import CLIP
import Foundation

/// What a re-embed run did.
public struct ReembedReport: Sendable {
    /// Rows that got the new model's embedding in this run.
    public var reembedded = 0
    /// Rows whose file could not be read or decoded (their rows keep the
    /// old embedding and block the switch, unless dropped).
    public var failures: [(path: String, reason: String)] = []
    /// Rows of such files deleted at the switch (`dropUnreadable`).
    public var dropped = 0
    /// Whether the library now holds the new model's embeddings.
    public var switched = false
    public var seconds = 0.0
}

/// Moves a library to another model, as photo libraries do on a model
/// change: every row's file is embedded again with the new model into
/// `next_embedding`, batch by batch (one transaction each, so an
/// interruption loses one batch and a re-run resumes), while searches keep
/// using the old embeddings. When every row has its new embedding, one
/// transaction switches: the column takes the new dimension, the index is
/// rebuilt and `imgsearch.meta` names the new model.
public final class Reembedder {
    public struct Options: Sendable {
        public var batchSize = 16
        public var applyEXIFOrientation = true
        /// Delete, at the switch, the rows whose files cannot be re-embedded
        /// (gone or unreadable) instead of not switching.
        public var dropUnreadable = false

        public init() {}
    }

    let library: Library
    let model: CLIPModel
    let identity: ModelIdentity
    let options: Options
    let progress: ProgressDisplay

    public init(library: Library, model: CLIPModel, identity: ModelIdentity, options: Options, progress: ProgressDisplay) {
        self.library = library
        self.model = model
        self.identity = identity
        self.options = options
        self.progress = progress
    }

    public func run(shouldStop: @escaping @Sendable () -> Bool) throws -> ReembedReport {
        let started = Date()
        var report = ReembedReport()
        try begin()
        var failed = Set<Int64>()
        while true {
            try embedPending(skipping: &failed, report: &report, shouldStop: shouldStop)
            if shouldStop() { throw IndexInterrupted() }
            switch try switchModel(failed: failed, report: &report) {
            case .switched:
                report.switched = true
                report.seconds = Date().timeIntervalSince(started)
                return report
            case .blocked:
                report.seconds = Date().timeIntervalSince(started)
                return report
            case .rowsAdded:
                continue  // written meanwhile by an `index` with the old model
            }
        }
    }

    /// Records the target model; a re-embed to another model left unfinished
    /// is discarded, one to this model is resumed.
    private func begin() throws {
        let connection = library.connection
        try connection.transaction {
            try connection.execute("SELECT pg_advisory_xact_lock($1)", ["\(Schema.advisoryLockKey)"])
            let current = try connection.execute(
                "SELECT value FROM imgsearch.meta WHERE key = 'next_model_fingerprint'").scalar
            guard current != identity.fingerprint else { return }
            try connection.run("DELETE FROM imgsearch.meta WHERE key LIKE 'next\\_%'")
            for (key, value) in [("next_model_name", identity.name), ("next_dimension", "\(identity.dimension)"),
                                 ("next_model_fingerprint", identity.fingerprint)] {
                try connection.execute("INSERT INTO imgsearch.meta VALUES ($1, $2)", [key, value])
            }
            try connection.run("UPDATE imgsearch.images SET next_embedding = NULL WHERE next_embedding IS NOT NULL")
        }
    }

    /// Embeds every row without a new embedding, in id order, except the
    /// ones already failed in this run.
    private func embedPending(skipping failed: inout Set<Int64>, report: inout ReembedReport,
                              shouldStop: @escaping @Sendable () -> Bool) throws {
        let connection = library.connection
        let pending = Int(try connection.execute(
            "SELECT count(*) FROM imgsearch.images WHERE next_embedding IS NULL").scalar ?? "0") ?? 0
        progress.start(total: max(0, pending - failed.count), verb: ("re-embedding", "re-embedded"))
        var lastID: Int64 = 0
        var done = 0
        while true {
            if shouldStop() { throw IndexInterrupted() }
            let rows = try connection.execute("""
                SELECT id, encode(path_bytes, 'hex') FROM imgsearch.images
                WHERE next_embedding IS NULL AND id > $1 AND id <> ALL($2::bigint[])
                ORDER BY id LIMIT $3
                """, ["\(lastID)", "{" + failed.map(String.init).joined(separator: ",") + "}", "\(options.batchSize)"]).rows
            guard let last = rows.last else { break }
            lastID = Int64(last[0]!)!
            let batch = rows.map { (id: Int64($0[0]!)!, path: RawPath(byteaHex: $0[1]!)!) }
            let prepared = prepare(batch.map(\.path))
            var pixels: [Float] = []
            var embedded: [Int64] = []
            for (row, result) in zip(batch, prepared) {
                switch result {
                case .success(let values):
                    pixels += values
                    embedded.append(row.id)
                case .failure(let reason):
                    failed.insert(row.id)
                    report.failures.append((row.path.display, reason.description))
                }
            }
            let embeddings = embedded.isEmpty ? [] : try model.embed(pixelValues: pixels)
            if shouldStop() { throw IndexInterrupted() }
            try connection.transaction {
                for (id, embedding) in zip(embedded, embeddings) {
                    let literal = "[" + embedding.map { "\($0)" }.joined(separator: ",") + "]"
                    try connection.execute("UPDATE imgsearch.images SET next_embedding = $2::vector WHERE id = $1",
                                           ["\(id)", literal])
                }
                if shouldStop() { throw IndexInterrupted() }
            }
            report.reembedded += embedded.count
            done += batch.count
            progress.update(done: done)
        }
        progress.finish()
    }

    /// Why a file could not be embedded again.
    struct Unusable: Error, CustomStringConvertible {
        var description: String
    }

    /// Reads, decodes and preprocesses files on all cores.
    private func prepare(_ paths: [RawPath]) -> [Result<[Float], Unusable>] {
        let results = ResultSlots<Result<[Float], Unusable>>(count: paths.count)
        let decoder = ImageDecoder(applyEXIFOrientation: options.applyEXIFOrientation)
        let model = self.model
        DispatchQueue.concurrentPerform(iterations: paths.count) { i in
            switch paths[i].readContents() {
            case .failure(let error):
                results[i] = .failure(Unusable(description: "cannot read file: \(error)"))
            case .success(let data):
                do {
                    results[i] = .success(model.preprocessor(try decoder.decode(data, name: paths[i].display)))
                } catch let error as ImageDecodeError {
                    results[i] = .failure(Unusable(description: error.reason))
                } catch {
                    results[i] = .failure(Unusable(description: "\(error)"))
                }
            }
        }
        return results.values
    }

    enum SwitchOutcome { case switched, blocked, rowsAdded }

    /// Switches to the new embeddings if every row has one (or the rest
    /// are failed rows to drop), in one transaction that writers wait for.
    private func switchModel(failed: Set<Int64>, report: inout ReembedReport) throws -> SwitchOutcome {
        let connection = library.connection
        return try connection.transaction {
            try connection.execute("SELECT pg_advisory_xact_lock($1)", ["\(Schema.advisoryLockKey)"])
            try connection.run("LOCK TABLE imgsearch.images IN SHARE ROW EXCLUSIVE MODE")
            // Another run of the same re-embed may have switched already, or
            // a re-embed to yet another model may have replaced this one.
            let meta = Dictionary(try connection.execute(
                "SELECT key, value FROM imgsearch.meta WHERE key IN ('model_fingerprint', 'next_model_fingerprint')")
                .rows.map { ($0[0]!, $0[1]!) }, uniquingKeysWith: { a, _ in a })
            if meta["model_fingerprint"] == identity.fingerprint && meta["next_model_fingerprint"] == nil {
                return .switched
            }
            guard meta["next_model_fingerprint"] == identity.fingerprint else {
                throw Library.Error(description: "another imgsearch started re-embedding this database with a different model "
                    + "(fingerprint \(meta["next_model_fingerprint"]?.prefix(12) ?? "none")); this run's work was discarded")
            }
            let missing = try connection.execute("SELECT id FROM imgsearch.images WHERE next_embedding IS NULL")
                .rows.map { Int64($0[0]!)! }
            if missing.contains(where: { !failed.contains($0) }) { return .rowsAdded }
            if !missing.isEmpty {
                guard options.dropUnreadable else { return .blocked }
                try connection.run("DELETE FROM imgsearch.images WHERE next_embedding IS NULL")
                report.dropped = missing.count
            }
            try connection.run(Schema.switchEmbeddings(dimension: identity.dimension))
            for (key, value) in [("model_name", identity.name), ("dimension", "\(identity.dimension)"),
                                 ("model_fingerprint", identity.fingerprint)] {
                try connection.execute("UPDATE imgsearch.meta SET value = $2 WHERE key = $1", [key, value])
            }
            try connection.run("DELETE FROM imgsearch.meta WHERE key LIKE 'next\\_%'")
            return .switched
        }
    }
}
