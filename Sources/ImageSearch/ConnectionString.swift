import Foundation

/// Where the password sits in a libpq connection string, in either of its
/// forms: `postgresql://user:password@host/db?password=...` (user info or
/// query parameter) or `key=value` pairs (`password=secret`,
/// `password = 'it''s'`). Used so that no message imgsearch prints (status,
/// errors, logs) contains the password, even of a string libpq rejects.
public struct ConnectionString: Sendable {
    public let text: String
    /// The ranges of `text` that are password values, as written.
    let passwordRanges: [Range<String.Index>]

    public init(_ text: String) {
        self.text = text
        passwordRanges = Self.isURL(text) ? Self.urlPasswords(text) : Self.keywordPasswords(text)
    }

    /// The string with every password value replaced by `***`.
    public var redacted: String {
        var out = text
        for range in passwordRanges.reversed() { out.replaceSubrange(range, with: "***") }
        return out
    }

    /// The password values as written and as libpq reads them (quotes and
    /// escapes removed, percent-decoded), longest first.
    public var secrets: [String] {
        var found = Set<String>()
        for range in passwordRanges {
            let raw = String(text[range])
            found.insert(raw)
            found.insert(raw.removingPercentEncoding ?? raw)
            found.insert(Self.unquoted(raw))
        }
        return found.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
    }

    /// `message` with every secret of this string replaced by `***`.
    public func scrub(_ message: String) -> String {
        secrets.reduce(message) { $0.replacingOccurrences(of: $1, with: "***") }
    }

    static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    /// libpq's URI rules: the user info ends at the first `@` before any
    /// `/`; the password follows its first `:`; `password=` may also come
    /// as a query parameter.
    static func urlPasswords(_ text: String) -> [Range<String.Index>] {
        var ranges: [Range<String.Index>] = []
        let afterScheme = text.range(of: "://")!.upperBound
        if let end = text[afterScheme...].firstIndex(where: { $0 == "@" || $0 == "/" }), text[end] == "@",
           let colon = text[afterScheme..<end].firstIndex(of: ":") {
            ranges.append(text.index(after: colon)..<end)
        }
        if let question = text[afterScheme...].firstIndex(of: "?") {
            var start = text.index(after: question)
            while start <= text.endIndex {
                let end = text[start...].firstIndex(of: "&") ?? text.endIndex
                let pair = text[start..<end]
                if let equals = pair.firstIndex(of: "="), pair[..<equals] == "password" {
                    ranges.append(text.index(after: equals)..<end)
                }
                guard end < text.endIndex else { break }
                start = text.index(after: end)
            }
        }
        return ranges
    }

    /// libpq's keyword rules: `key = value` separated by white space; a
    /// value is single-quoted (backslash escapes) or runs to white space.
    static func keywordPasswords(_ text: String) -> [Range<String.Index>] {
        var ranges: [Range<String.Index>] = []
        var i = text.startIndex
        func skipSpace() { while i < text.endIndex, text[i].isWhitespace { i = text.index(after: i) } }
        while true {
            skipSpace()
            guard i < text.endIndex else { break }
            let keyStart = i
            while i < text.endIndex, text[i] != "=", !text[i].isWhitespace { i = text.index(after: i) }
            let key = text[keyStart..<i]
            skipSpace()
            guard i < text.endIndex, text[i] == "=" else { continue }  // malformed: libpq says so
            i = text.index(after: i)
            skipSpace()
            let valueStart = i
            if i < text.endIndex, text[i] == "'" {
                i = text.index(after: i)
                while i < text.endIndex, text[i] != "'" {
                    if text[i] == "\\", text.index(after: i) < text.endIndex { i = text.index(after: i) }
                    i = text.index(after: i)
                }
                if i < text.endIndex { i = text.index(after: i) }
            } else {
                while i < text.endIndex, !text[i].isWhitespace {
                    if text[i] == "\\", text.index(after: i) < text.endIndex { i = text.index(after: i) }
                    i = text.index(after: i)
                }
            }
            if key == "password" { ranges.append(valueStart..<i) }
        }
        return ranges
    }

    /// A keyword value without its quotes and backslash escapes.
    static func unquoted(_ raw: String) -> String {
        var body = Substring(raw)
        if body.hasPrefix("'") { body = body.dropFirst() }
        if body.hasSuffix("'") && !body.hasSuffix("\\'") { body = body.dropLast() }
        var out = "", escaped = false
        for c in body {
            if escaped { out.append(c); escaped = false } else if c == "\\" { escaped = true } else { out.append(c) }
        }
        return out
    }
}
