import CVectorsShim

/// Defaults and ranges of the index options (from vectors_limits.h, which
/// the C shim reads too).
public enum HNSWLimits {
    public static let defaultM = Int(VECTORS_HNSW_DEFAULT_M)
    public static let mRange = Int(VECTORS_HNSW_MIN_M)...Int(VECTORS_HNSW_MAX_M)
    public static let defaultEfConstruction = Int(VECTORS_HNSW_DEFAULT_EF_CONSTRUCTION)
    public static let efConstructionRange = Int(VECTORS_HNSW_MIN_EF_CONSTRUCTION)...Int(VECTORS_HNSW_MAX_EF_CONSTRUCTION)
}

/// The `options` string of pgvecto.rs-style index definitions:
///
///     [indexing.hnsw]
///     m = 16
///     ef_construction = 300
///
/// A deliberately small TOML subset: comments, blank lines, the tables
/// `[indexing]` (empty) and `[indexing.hnsw]`, and integer values. Anything
/// else is rejected with a message that names it, rather than ignored.
public struct IndexOptionsText: Equatable, Sendable {
    public var m: Int?
    public var efConstruction: Int?

    public struct ParseError: Error, Equatable, Sendable {
        public var message: String
        public var detail: String
    }

    public static func parse(_ text: String) throws(ParseError) -> IndexOptionsText {
        var result = IndexOptionsText()
        var table = ""
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            line = trim(line)
            if line.isEmpty { continue }
            let lineNumber = number + 1
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else {
                    throw ParseError(message: "invalid index options: unterminated table header \"\(line)\"", detail: "Line \(lineNumber).")
                }
                table = String(trim(line.dropFirst().dropLast()))
                guard table == "indexing" || table == "indexing.hnsw" else {
                    throw ParseError(
                        message: "unsupported index options table [\(table)]",
                        detail: "Only [indexing.hnsw] (with keys m and ef_construction) is supported (line \(lineNumber)).")
                }
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw ParseError(message: "invalid index options: expected key = value, found \"\(line)\"", detail: "Line \(lineNumber).")
            }
            let key = String(trim(line[..<equals]))
            let valueText = String(trim(line[line.index(after: equals)...]))
            guard table == "indexing.hnsw" else {
                throw ParseError(
                    message: "index option \"\(key)\" must be inside the [indexing.hnsw] table",
                    detail: "Line \(lineNumber).")
            }
            guard key == "m" || key == "ef_construction" else {
                throw ParseError(
                    message: "unknown index option \"\(key)\" in [indexing.hnsw]",
                    detail: "Supported keys are m and ef_construction.")
            }
            guard let value = Int(valueText.replacingUnderscores()) else {
                throw ParseError(message: "index option \(key) must be an integer, got \"\(valueText)\"", detail: "Line \(lineNumber).")
            }
            switch key {
            case "m":
                guard result.m == nil else { throw ParseError(message: "index option m is given twice", detail: "Line \(lineNumber).") }
                guard HNSWLimits.mRange.contains(value) else {
                    throw ParseError(
                        message: "index option m = \(value) is out of range",
                        detail: "m must be between \(HNSWLimits.mRange.lowerBound) and \(HNSWLimits.mRange.upperBound).")
                }
                result.m = value
            case "ef_construction":
                guard result.efConstruction == nil else {
                    throw ParseError(message: "index option ef_construction is given twice", detail: "Line \(lineNumber).")
                }
                guard HNSWLimits.efConstructionRange.contains(value) else {
                    throw ParseError(
                        message: "index option ef_construction = \(value) is out of range",
                        detail: "ef_construction must be between \(HNSWLimits.efConstructionRange.lowerBound) and \(HNSWLimits.efConstructionRange.upperBound).")
                }
                result.efConstruction = value
            default:
                preconditionFailure("key checked above")
            }
        }
        return result
    }

    static func trim(_ s: Substring) -> Substring {
        var s = s
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s = s.dropLast() }
        return s
    }
}

extension String {
    /// TOML allows 1_000 in integers.
    fileprivate func replacingUnderscores() -> String {
        // Swift's String.contains(String) lives in _StringProcessing, which
        // the extension does not link; compare adjacent characters instead.
        if hasPrefix("_") || hasSuffix("_") || zip(self, dropFirst()).contains(where: { $0 == "_" && $1 == "_" }) {
            return self
        }
        return String(filter { $0 != "_" })
    }
}
