import CLIP
import Foundation

/// What identifies the model that made a database's embeddings: searching
/// with another model's text embeddings would return noise, so a mismatch
/// is an error, not a warning.
public struct ModelIdentity: Equatable, Sendable {
    /// The model directory's name, for messages.
    public var name: String
    public var dimension: Int
    /// SHA-256 of `config.json` and the first 4 MiB of `model.safetensors`
    /// (its header and the first tensors), hex.
    public var fingerprint: String

    public init(name: String, dimension: Int, fingerprint: String) {
        self.name = name
        self.dimension = dimension
        self.fingerprint = fingerprint
    }

    /// The identity of the model in `directory`.
    public init(directory: String, dimension: Int) throws {
        var hash = SHA256()
        hash.update(try Data(contentsOf: URL(fileURLWithPath: directory + "/config.json")))
        let weights = try FileHandle(forReadingFrom: URL(fileURLWithPath: directory + "/model.safetensors"))
        defer { try? weights.close() }
        hash.update(try weights.read(upToCount: 4 << 20) ?? Data())
        self.init(name: URL(fileURLWithPath: directory).standardizedFileURL.lastPathComponent,
                  dimension: dimension, fingerprint: SHA256.hex(hash.finalize()))
    }
}

/// A database prepared for imgsearch: the extension, the schema and a model
/// that agrees with what is stored.
public final class Library {
    public let connection: Connection
    /// The model the stored embeddings came from (nil: nothing indexed yet
    /// and no model given).
    public let model: ModelIdentity?
    /// The model a re-embed (`index --reembed`) is moving the rows to, while
    /// one is unfinished.
    public let next: ModelIdentity?

    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
    }

    /// Opens a database; with `create`, makes the extension, schema and index
    /// on first use (that needs `model`, which fixes the vector dimension).
    /// Another model than the stored one is refused unless `reembed`.
    public init(connection: Connection, model: ModelIdentity?, create: Bool, reembed: Bool = false) throws {
        self.connection = connection
        let available = try connection.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'vectors'").scalar
        guard available != nil else {
            throw Error(description: "the vectors extension is not installed in this PostgreSQL server "
                + "(version \(connection.serverVersion / 10000)); install it with `make install` in the imgsearch source tree "
                + "(as root, for the server whose pg_config is first on the PATH)")
        }
        guard try Self.prepareSchema(connection, model: create ? model : nil) else {
            self.model = nil
            self.next = nil
            return
        }
        let meta = Dictionary(
            try connection.execute("SELECT key, value FROM imgsearch.meta").rows.map { ($0[0]!, $0[1]!) },
            uniquingKeysWith: { a, _ in a })
        let version = Int(meta["schema_version"] ?? "") ?? 0
        guard version <= Schema.version else {
            throw Error(description: "this database's imgsearch schema is version \(version), newer than this imgsearch understands (\(Schema.version)); upgrade imgsearch")
        }
        guard let name = meta["model_name"], let dimension = Int(meta["dimension"] ?? ""), let fingerprint = meta["model_fingerprint"] else {
            throw Error(description: "imgsearch.meta is incomplete (schema_version, model_name, dimension, model_fingerprint expected)")
        }
        let stored = ModelIdentity(name: name, dimension: dimension, fingerprint: fingerprint)
        let next: ModelIdentity? = if let name = meta["next_model_name"], let dimension = Int(meta["next_dimension"] ?? ""),
                                      let fingerprint = meta["next_model_fingerprint"] {
            ModelIdentity(name: name, dimension: dimension, fingerprint: fingerprint)
        } else { nil }
        if let model, model != stored, !reembed {
            if model == next {
                let row = try connection.execute("SELECT count(next_embedding), count(*) FROM imgsearch.images").rows[0]
                throw Error(description: "this database is re-embedding to model \(model.name) (\(row[0] ?? "?") of \(row[1] ?? "?") rows done); "
                    + "its rows come from model \(stored.name) until `imgsearch index --model DIR --reembed` finishes the change")
            }
            throw Error(description: "this database holds embeddings of model \(stored.name) (\(stored.dimension)-d, fingerprint \(stored.fingerprint.prefix(12))), "
                + "but the model given is \(model.name) (\(model.dimension)-d, fingerprint \(model.fingerprint.prefix(12))); "
                + "use the same model, another database (--db or IMGSEARCH_HOME), "
                + "or move every row to the new model with `imgsearch index --model DIR --reembed`")
        }
        self.model = stored
        self.next = next
    }

    /// Inside a transaction that writes embeddings: waits for a model switch
    /// in progress (`index --reembed` holds SHARE ROW EXCLUSIVE on the table
    /// while it switches) and refuses to write if one committed since this
    /// library was opened, with the message opening it would have given.
    /// Without it, such a batch failed on the column's new dimension
    /// ("wrong number of dimensions for type vector(12)") for every file.
    func checkModelUnchanged() throws {
        guard let model else { return }
        try connection.run("LOCK TABLE imgsearch.images IN ROW EXCLUSIVE MODE")
        let meta = Dictionary(try connection.execute(
            "SELECT key, value FROM imgsearch.meta WHERE key IN ('model_name', 'dimension', 'model_fingerprint')")
            .rows.compactMap { row in row[0].flatMap { key in row[1].map { (key, $0) } } }, uniquingKeysWith: { a, _ in a })
        guard let fingerprint = meta["model_fingerprint"], fingerprint != model.fingerprint else { return }
        throw Error(description: "this database holds embeddings of model \(meta["model_name"] ?? "?") "
            + "(\(meta["dimension"] ?? "?")-d, fingerprint \(fingerprint.prefix(12))) since a re-embed switched it during this run, "
            + "but the model given is \(model.name) (\(model.dimension)-d, fingerprint \(model.fingerprint.prefix(12))); "
            + "index again with the new model")
    }

    /// The schema version a database records, nil when it has no imgsearch
    /// schema.
    static func storedVersion(_ connection: Connection) throws -> Int? {
        guard try connection.execute("SELECT to_regclass('imgsearch.meta') IS NOT NULL").scalar == "t" else { return nil }
        let text = try connection.execute("SELECT value FROM imgsearch.meta WHERE key = 'schema_version'").scalar
        return Int(text ?? "") ?? 0
    }

    /// Makes the schema current: creates it when absent and `model` is
    /// given (it fixes the dimension), upgrades an older version in place.
    /// Returns whether the schema exists now.
    ///
    /// Processes starting together on one database are serialized by a
    /// transaction-level advisory lock, and each looks again once it holds
    /// it: concurrent CREATE ... IF NOT EXISTS can fail on the catalog's
    /// unique indexes, and a migration must run once.
    static func prepareSchema(_ connection: Connection, model: ModelIdentity?) throws -> Bool {
        let seen = try storedVersion(connection)
        if let seen, seen >= Schema.version {
            try useExtensionSchema(connection)
            return true
        }
        guard seen != nil || model != nil else {
            try useExtensionSchema(connection)
            return false
        }
        try connection.transaction {
            try connection.execute("SELECT pg_advisory_xact_lock($1)", ["\(Schema.advisoryLockKey)"])
            guard let version = try storedVersion(connection) else {
                guard let model else { throw Error(description: "the imgsearch schema was dropped while opening it") }
                try connection.run("CREATE EXTENSION IF NOT EXISTS vectors")
                try useExtensionSchema(connection)
                try connection.run(Schema.create(dimension: model.dimension))
                for (key, value) in [("schema_version", "\(Schema.version)"), ("model_name", model.name),
                                     ("dimension", "\(model.dimension)"), ("model_fingerprint", model.fingerprint)] {
                    try connection.execute("INSERT INTO imgsearch.meta VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", [key, value])
                }
                return
            }
            try useExtensionSchema(connection)
            guard version >= 1 else { return }  // unreadable: refused below with the version seen
            for step in version..<max(version, Schema.version) {
                try connection.run(Schema.migrations[step - 1])
            }
            if version < Schema.version {
                try connection.execute("UPDATE imgsearch.meta SET value = $1 WHERE key = 'schema_version'", ["\(Schema.version)"])
            }
        }
        return true
    }

    /// Whether the tables exist (a fresh database has none until `index`).
    public var isInitialized: Bool { model != nil }

    /// Puts the schema holding the extension's type and operators on the
    /// search path, wherever the extension was installed.
    private static func useExtensionSchema(_ connection: Connection) throws {
        let schema = try connection.execute("""
            SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname = 'vectors'
            """).scalar
        let path = [schema, "public"].compactMap { $0 }
        try connection.execute("SELECT set_config('search_path', $1, false)",
                               [path.map { "\"\($0.replacingOccurrences(of: "\"", with: "\"\""))\"" }.joined(separator: ", ")])
    }
}

/// A PostgreSQL array literal (`{"a","b"}`) for binding a list as one
/// `text[]` parameter.
func postgresArrayLiteral(_ items: [String]) -> String {
    let quoted = items.map { item -> String in
        "\"" + item.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
    return "{" + quoted.joined(separator: ",") + "}"
}
