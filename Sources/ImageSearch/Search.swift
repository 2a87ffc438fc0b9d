import Foundation

/// Conditions on photos besides their content. Values travel as bound
/// parameters; only the shape of the WHERE clause depends on which are set.
public struct SearchFilter: Sendable, Equatable {
    /// Inclusive lower bound on the capture time (EXIF, else the file's mtime
    /// in the server's time zone), as `YYYY-MM-DD[ HH:MM[:SS]]`.
    public var after: String?
    /// Exclusive upper bound, same form.
    public var before: String?
    /// Case-insensitive substring of the EXIF make and model.
    public var camera: String?
    /// Shell glob (`*`, `?`): on the whole path if it contains `/`, else on
    /// the file name.
    public var pathGlob: String?

    public init(after: String? = nil, before: String? = nil, camera: String? = nil, pathGlob: String? = nil) {
        self.after = after
        self.before = before
        self.camera = camera
        self.pathGlob = pathGlob
    }

    /// Whether `text` is a date or date-time the filters accept.
    public static func isValidDate(_ text: String) -> Bool {
        let pattern = #"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$"#
        guard text.range(of: pattern, options: .regularExpression) != nil else { return false }
        let numbers = text.split(whereSeparator: { "-: T".contains($0) }).compactMap { Int($0) }
        return (1...12).contains(numbers[1]) && (1...31).contains(numbers[2])
            && (numbers.count < 4 || ((0...23).contains(numbers[3]) && (0...59).contains(numbers[4])))
            && (numbers.count < 6 || (0...59).contains(numbers[5]))
    }

    /// `text` with LIKE's special characters (`%`, `_`, `\`) escaped.
    static func likeEscaped(_ text: String) -> String {
        var out = ""
        for c in text {
            if c == "%" || c == "_" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// A LIKE pattern equivalent to a shell glob.
    static func likePattern(glob: String) -> String {
        glob.map { c in c == "*" ? "%" : c == "?" ? "_" : likeEscaped(String(c)) }.joined()
    }

    /// SQL conditions numbered from `$firstParameter`, and their values.
    func whereClause(firstParameter: Int) -> (conditions: [String], parameters: [String]) {
        var conditions: [String] = [], parameters: [String] = []
        func bind(_ value: String) -> String {
            parameters.append(value)
            return "$\(firstParameter + parameters.count - 1)"
        }
        let when = "coalesce(taken_at, modified_at::timestamp)"
        if let after { conditions.append("\(when) >= \(bind(after))::timestamp") }
        if let before { conditions.append("\(when) < \(bind(before))::timestamp") }
        if let camera { conditions.append("camera ILIKE '%' || \(bind(Self.likeEscaped(camera))) || '%'") }
        if let pathGlob {
            let subject = pathGlob.contains("/") ? "path" : "regexp_replace(path, '^.*/', '')"
            conditions.append("\(subject) LIKE \(bind(Self.likePattern(glob: pathGlob)))")
        }
        return (conditions, parameters)
    }
}

/// One photo found.
public struct SearchHit: Sendable, Equatable {
    public var rank: Int
    /// Cosine distance, 0 (same direction) to 2.
    public var distance: Double
    /// The path for display (invalid UTF-8 shown as U+FFFD).
    public var path: String
    /// The path itself.
    public var rawPath: RawPath
    public var takenAt: String?
    public var camera: String?
}

extension Library {
    /// The `limit` photos nearest to `embedding` that pass `filter`, through
    /// the index in vbase mode, so that filters never shorten the result
    /// while enough photos qualify.
    public func search(embedding: [Float], filter: SearchFilter, limit: Int) throws -> [SearchHit] {
        let (conditions, filterParameters) = filter.whereClause(firstParameter: 3)
        let sql = """
            SELECT path, embedding <=> $1::vector, taken_at::text, camera, encode(path_bytes, 'hex')
            FROM imgsearch.images
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY embedding <=> $1::vector
            LIMIT $2
            """
        let literal = "[" + embedding.map { "\($0)" }.joined(separator: ",") + "]"
        let rows = try connection.transaction {
            try connection.run("SET LOCAL vectors.search_mode = vbase")
            return try connection.execute(sql, [literal, "\(limit)"] + filterParameters).rows
        }
        return rows.enumerated().map { i, row in
            SearchHit(rank: i + 1, distance: Double(row[1]!)!, path: row[0]!, rawPath: RawPath(byteaHex: row[4]!)!,
                      takenAt: row[2], camera: row[3])
        }
    }

    /// The stored embedding of an indexed file, if it is indexed.
    public func storedEmbedding(path: RawPath) throws -> [Float]? {
        guard let text = try connection.execute("SELECT embedding::text FROM imgsearch.images WHERE path_bytes = $1::bytea",
                                                [path.byteaLiteral]).scalar else {
            return nil
        }
        return text.dropFirst().dropLast().split(separator: ",").map { Float($0)! }
    }
}
