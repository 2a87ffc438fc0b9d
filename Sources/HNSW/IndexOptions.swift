import CVectorsShim

/// Defaults and ranges of the index options (from vectors_limits.h, which
/// the C shim reads too).
public enum HNSWLimits {
    public static let defaultM = Int(VECTORS_HNSW_DEFAULT_M)
    public static let mRange = Int(VECTORS_HNSW_MIN_M)...Int(VECTORS_HNSW_MAX_M)
    public static let defaultEfConstruction = Int(VECTORS_HNSW_DEFAULT_EF_CONSTRUCTION)
    public static let efConstructionRange = Int(VECTORS_HNSW_MIN_EF_CONSTRUCTION)...Int(VECTORS_HNSW_MAX_EF_CONSTRUCTION)
    public static let buildThreadsRange = 1...Int(VECTORS_MAX_BUILD_THREADS)
}

/// The `options` string of pgvecto.rs-style index definitions:
///
///     [indexing.hnsw]
///     m = 16
///     ef_construction = 300
///     [optimizing]
///     optimizing_threads = 4
///
/// The TOML that pgvecto.rs users write: comments, blank lines, `\r\n` and
/// stray `\r` line ends (a dump restored through Windows tools had
/// `[indexing.hnsw]\r\r\n`), table headers, bare and quoted keys, dotted
/// keys (`indexing.hnsw.m = 16` at the top level), inline tables
/// (`hnsw = { m = 16 }`), integers with `_`, floats and booleans. Keys:
/// `indexing.hnsw.m`, `indexing.hnsw.ef_construction`,
/// `optimizing.optimizing_threads` (the build's threads), and
/// `optimizing.sealing_secs`, `sealing_size`, `delete_threshold`, which
/// configure pgvecto.rs's background segment merging; this index has no
/// segments, so they are checked for type and otherwise mean nothing.
/// Anything else is rejected with a message that names it.
public struct IndexOptionsText: Equatable, Sendable {
    public var m: Int?
    public var efConstruction: Int?
    /// `optimizing.optimizing_threads`: threads that link the graph in CREATE INDEX.
    public var buildThreads: Int?

    public struct ParseError: Error, Equatable, Sendable {
        public var message: String
        public var detail: String
    }

    enum Value: Equatable {
        case integer(Int)
        case float(Double)
        case boolean(Bool)
        case string(String)
        case table([(key: [String], value: Value)])

        static func == (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case let (.integer(x), .integer(y)): return x == y
            case let (.float(x), .float(y)): return x == y
            case let (.boolean(x), .boolean(y)): return x == y
            case let (.string(x), .string(y)): return x == y
            default: return false
            }
        }
    }

    public static func parse(_ text: String) throws(ParseError) -> IndexOptionsText {
        var result = IndexOptionsText()
        var reader = TOMLSubset(text)
        for entry in try reader.entries() {
            try result.apply(entry.key, entry.value, line: entry.line)
        }
        return result
    }

    mutating func apply(_ path: [String], _ value: Value, line: Int) throws(ParseError) {
        let key = path.joined(separator: ".")
        func integer(_ range: ClosedRange<Int>) throws(ParseError) -> Int {
            guard case let .integer(n) = value else {
                throw ParseError(message: "index option \(path.last ?? key) must be an integer, got \(value.text)", detail: "Line \(line).")
            }
            guard range.contains(n) else {
                throw ParseError(
                    message: "index option \(path.last ?? key) = \(n) is out of range",
                    detail: "\(path.last ?? key) must be between \(range.lowerBound) and \(range.upperBound).")
            }
            return n
        }
        func once(_ present: Bool) throws(ParseError) {
            if present { throw ParseError(message: "index option \(path.last ?? key) is given twice", detail: "Line \(line).") }
        }
        switch key {
        case "indexing.hnsw.m":
            try once(m != nil)
            m = try integer(HNSWLimits.mRange)
        case "indexing.hnsw.ef_construction":
            try once(efConstruction != nil)
            efConstruction = try integer(HNSWLimits.efConstructionRange)
        case "optimizing.optimizing_threads":
            try once(buildThreads != nil)
            buildThreads = try integer(HNSWLimits.buildThreadsRange)
        case "optimizing.sealing_secs", "optimizing.sealing_size":
            _ = try integer(0...Int(Int32.max))
        case "optimizing.delete_threshold":
            switch value {
            case .float(let x) where (0...1).contains(x): break
            case .integer(let n) where (0...1).contains(n): break
            default:
                throw ParseError(message: "index option delete_threshold must be a number between 0 and 1, got \(value.text)", detail: "Line \(line).")
            }
        default:
            if path.first == "indexing", path.count >= 2, path[1] != "hnsw" {
                throw ParseError(
                    message: "unsupported index options table [indexing.\(path[1])]",
                    detail: "Only [indexing.hnsw] (with keys m and ef_construction) is supported (line \(line)).")
            }
            if path.count == 1 {
                throw ParseError(
                    message: "index option \"\(key)\" must be inside the [indexing.hnsw] or [optimizing] table",
                    detail: "Line \(line).")
            }
            throw ParseError(
                message: "unknown index option \"\(key)\"",
                detail: "Supported: [indexing.hnsw] m, ef_construction; [optimizing] optimizing_threads, sealing_secs, sealing_size, delete_threshold (line \(line)).")
        }
    }
}

extension IndexOptionsText.Value {
    /// The value as the user wrote it, for messages.
    var text: String {
        switch self {
        case .integer(let n): return String(n)
        case .float(let x): return String(x)
        case .boolean(let b): return b ? "true" : "false"
        case .string(let s): return "\"\(s)\""
        case .table: return "a table"
        }
    }
}

/// A reader of the TOML subset above: yields each key's full dotted path
/// (table header + key), its value and its line.
struct TOMLSubset {
    typealias ParseError = IndexOptionsText.ParseError
    typealias Value = IndexOptionsText.Value

    let chars: [Character]
    var i = 0
    var line = 1

    init(_ text: String) {
        // "\r\n" is one Character in Swift; a stray "\r" ends a line too.
        chars = text.map { $0 == "\r\n" || $0 == "\r" ? "\n" : $0 }
    }

    mutating func entries() throws(ParseError) -> [(key: [String], value: Value, line: Int)] {
        var table: [String] = []
        var out: [(key: [String], value: Value, line: Int)] = []
        var seenTables: Set<[String]> = []
        while true {
            skipBlank(newlines: true)
            guard i < chars.count else { return out }
            if chars[i] == "[" {
                let header = String(chars[i...].prefix { $0 != "\n" })
                i += 1
                skipBlank(newlines: false)
                table = try keyPath()
                skipBlank(newlines: false)
                guard i < chars.count, chars[i] == "]" else {
                    throw ParseError(message: "invalid index options: unterminated table header \"\(header)\"", detail: "Line \(line).")
                }
                i += 1
                guard seenTables.insert(table).inserted else {
                    throw ParseError(message: "index options table [\(table.joined(separator: "."))] is given twice", detail: "Line \(line).")
                }
                try endOfLine()
                continue
            }
            let startLine = line
            let key = try keyPath()
            skipBlank(newlines: false)
            guard i < chars.count, chars[i] == "=" else { throw error("expected key = value") }
            i += 1
            skipBlank(newlines: false)
            let value = try parseValue()
            flatten(table + key, value, line: startLine, into: &out)
            try endOfLine()
        }
    }

    func flatten(_ path: [String], _ value: Value, line: Int, into out: inout [(key: [String], value: Value, line: Int)]) {
        if case .table(let members) = value {
            for member in members { flatten(path + member.key, member.value, line: line, into: &out) }
        } else {
            out.append((path, value, line))
        }
    }

    func error(_ what: String) -> ParseError {
        let rest = String(chars[min(i, chars.count)...].prefix { $0 != "\n" })
        return ParseError(message: "invalid index options: \(what) at \"\(rest)\"", detail: "Line \(line).")
    }

    mutating func skipBlank(newlines: Bool) {
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" {
                i += 1
            } else if c == "#" {
                while i < chars.count, chars[i] != "\n" { i += 1 }
            } else if c == "\n" && newlines {
                line += 1
                i += 1
            } else {
                return
            }
        }
    }

    mutating func endOfLine() throws(ParseError) {
        skipBlank(newlines: false)
        guard i == chars.count || chars[i] == "\n" else { throw error("unexpected text after the value") }
    }

    /// `a.b."c d".'e'`
    mutating func keyPath() throws(ParseError) -> [String] {
        var parts: [String] = []
        while true {
            skipBlank(newlines: false)
            guard i < chars.count else { throw error("expected a key") }
            if chars[i] == "\"" || chars[i] == "'" {
                parts.append(try quoted())
            } else {
                var part = ""
                while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" || chars[i] == "-" {
                    part.append(chars[i])
                    i += 1
                }
                guard !part.isEmpty else { throw error("expected a key") }
                parts.append(part)
            }
            skipBlank(newlines: false)
            guard i < chars.count, chars[i] == "." else { return parts }
            i += 1
        }
    }

    mutating func quoted() throws(ParseError) -> String {
        let quote = chars[i]
        i += 1
        var s = ""
        while i < chars.count, chars[i] != quote, chars[i] != "\n" {
            if quote == "\"" && chars[i] == "\\" && i + 1 < chars.count {
                i += 1
                switch chars[i] {
                case "n": s.append("\n")
                case "t": s.append("\t")
                case "\"": s.append("\"")
                case "\\": s.append("\\")
                default: throw error("unsupported escape \\\(chars[i])")
                }
            } else {
                s.append(chars[i])
            }
            i += 1
        }
        guard i < chars.count, chars[i] == quote else { throw error("unterminated string") }
        i += 1
        return s
    }

    mutating func parseValue() throws(ParseError) -> Value {
        guard i < chars.count else { throw error("expected a value") }
        if chars[i] == "\"" || chars[i] == "'" { return .string(try quoted()) }
        if chars[i] == "{" {
            i += 1
            var members: [(key: [String], value: Value)] = []
            skipBlank(newlines: false)
            if i < chars.count, chars[i] == "}" {
                i += 1
                return .table(members)
            }
            while true {
                let key = try keyPath()
                skipBlank(newlines: false)
                guard i < chars.count, chars[i] == "=" else { throw error("expected key = value in an inline table") }
                i += 1
                skipBlank(newlines: false)
                members.append((key, try parseValue()))
                skipBlank(newlines: false)
                guard i < chars.count else { throw error("unterminated inline table") }
                if chars[i] == "," {
                    i += 1
                    skipBlank(newlines: false)
                    continue
                }
                guard chars[i] == "}" else { throw error("expected , or } in an inline table") }
                i += 1
                return .table(members)
            }
        }
        var word = ""
        while i < chars.count, !" \t\n#,}".contains(chars[i]) {
            word.append(chars[i])
            i += 1
        }
        if word == "true" { return .boolean(true) }
        if word == "false" { return .boolean(false) }
        if let n = Int(word.withoutDigitSeparators) { return .integer(n) }
        if word.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let x = Double(word.withoutDigitSeparators), x.isFinite {
            return .float(x)
        }
        guard !word.isEmpty else { throw error("expected a value") }
        // Not TOML; kept as text so that the key's own check names it
        // ("m must be an integer, got \"sixteen\"").
        return .string(word)
    }
}

extension String {
    /// TOML allows 1_000 in numbers (a `_` between two digits).
    fileprivate var withoutDigitSeparators: String {
        let c = Array(self)
        var out = ""
        for (k, ch) in c.enumerated() {
            if ch == "_" {
                guard k > 0, k + 1 < c.count, c[k - 1].isNumber, c[k + 1].isNumber else { return self }
                continue
            }
            out.append(ch)
        }
        return out
    }
}
