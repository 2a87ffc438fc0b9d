import ArgumentParser
import CLIP
import Foundation
import ImageSearch

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the database, the model, the number of images and the index.")

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: ArgumentHelp("A model directory to compare with the one the database was indexed with.", valueName: "dir"))
    var model: String?

    @Flag(name: .long, help: "Also check the index's structure (vectors_index_check: every row reachable, links valid).")
    var check = false

    func run() throws {
        try reportingErrors {
            let session = try database.connect()
            defer { session.close() }
            let library = try Library(connection: session.connection, model: nil, create: false)
            let connection = session.connection
            let extensionVersion = try connection.execute("SELECT extversion FROM pg_extension WHERE extname = 'vectors'").scalar
            print("database:  \(session.location)")
            print("server:    PostgreSQL \(try connection.execute("SHOW server_version").scalar ?? "?"), extension vectors \(extensionVersion ?? "not created yet")")
            let forced = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { " (set by OPENBLAS_CORETYPE=\($0))" } ?? ""
            print("compute:   OpenBLAS kernels \(CLIPModel.matrixKernels)\(forced)")
            guard let stored = library.model else {
                print("images:    none (nothing indexed yet: run `imgsearch index DIR`)")
                return
            }
            print("schema:    imgsearch, version \(Schema.version)")
            let counts = try connection.execute("SELECT count(*), count(next_embedding) FROM imgsearch.images").rows[0]
            var modelLine = "model:     \(stored.name), \(stored.dimension)-d, fingerprint \(stored.fingerprint.prefix(12))"
            if let directory = ModelLocation.resolve(explicit: model) {
                let given = try? ModelIdentity(directory: directory, dimension: stored.dimension)
                modelLine += given?.fingerprint == stored.fingerprint ? " (matches \(directory))" : " (differs from \(directory))"
            }
            print(modelLine + ", all \(counts[0] ?? "0") rows")
            if let next = library.next {
                print("re-embed:  to \(next.name), \(next.dimension)-d, fingerprint \(next.fingerprint.prefix(12)): "
                    + "\(counts[1] ?? "0") of \(counts[0] ?? "0") rows done; `imgsearch index --model DIR --reembed` continues it")
            }
            let row = try connection.execute("SELECT count(*), max(indexed_at)::text FROM imgsearch.images").rows[0]
            print("images:    \(row[0] ?? "0")" + (row[1].map { ", last indexed \($0)" } ?? ""))
            let index = try connection.execute("""
                SELECT pg_size_pretty(pg_relation_size(c.oid)), pg_get_indexdef(c.oid)
                FROM pg_class c WHERE c.oid = to_regclass('imgsearch.\(Schema.indexName)')
                """).rows.first
            if let index {
                print("index:     \(Schema.indexName), \(index[0] ?? "?"): \(index[1] ?? "")")
            } else {
                print("index:     missing (\(Schema.indexName))")
            }
            if check, index != nil {
                let result = try connection.execute("""
                    SELECT ok, live_elements, unreachable, bad_links, missing_rows
                    FROM vectors_index_check('imgsearch.\(Schema.indexName)'::regclass)
                    """).rows[0]
                print("integrity: \(result[0] == "t" ? "ok" : "FAILED"): \(result[1] ?? "?") live, \(result[2] ?? "?") unreachable, \(result[3] ?? "?") bad links, \(result[4] ?? "?") rows missing")
                if result[0] != "t" { throw ExitCode.failure }
            }
        }
    }
}
