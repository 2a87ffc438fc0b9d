/// The two HTML entity decoders OpenAI's cleaning runs, each with its own rules:
/// Python's `html.unescape` (applied twice by open_clip) and the stricter one
/// inside ftfy's `fix_text`.
enum HTMLUnescape {
    static func table(_ lines: [String]) -> [String: [Unicode.Scalar]] {
        var t: [String: [Unicode.Scalar]] = [:]
        t.reserveCapacity(lines.count)
        for line in lines {
            let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            t[String(parts[0])] = Array(parts[1].unicodeScalars)
        }
        return t
    }

    /// `html.entities.html5`: name (with `;` where it has one) -> characters.
    static let html5 = table(HTMLEntityData.html5)
    /// ftfy's table: `&name;` for html5 names ending in `;`, plus its upper-case additions.
    static let ftfy: [String: [Unicode.Scalar]] = {
        var t: [String: [Unicode.Scalar]] = [:]
        for (name, value) in html5 where name.hasSuffix(";") { t["&" + name] = value }
        for (name, value) in table(HTMLEntityData.ftfyUpperCase) { t["&" + name] = value }
        return t
    }()

    /// windows-1252's characters for bytes 0x80...0x9F; the five undefined bytes
    /// stand for the C1 code points of the same value (ftfy's "sloppy" codec, and
    /// what `html.unescape` gives for `&#129;`).
    static let cp1252High: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039, 0x152, 0x8D, 0x17D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x2DC, 0x2122, 0x161, 0x203A, 0x153, 0x9D, 0x17E, 0x178,
    ]

    @inline(__always) static func isASCIIDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 0x30 && c.value <= 0x39 }
    @inline(__always) static func isHexDigit(_ c: Unicode.Scalar) -> Bool {
        isASCIIDigit(c) || (c.value | 0x20 >= 0x61 && c.value | 0x20 <= 0x66)
    }
    @inline(__always) static func isASCIIAlphanumeric(_ c: Unicode.Scalar) -> Bool {
        isASCIIDigit(c) || (c.value | 0x20 >= 0x61 && c.value | 0x20 <= 0x7A)
    }

    /// Python's `html.unescape`: `&#N;`, `&#xH;` (the `;` optional), and named
    /// references, the longest known prefix winning for names without `;`.
    static func python(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            guard s[i] == "&", i + 1 < s.count else { out.append(s[i]); i += 1; continue }
            if s[i + 1] == "#" {
                // `#[0-9]+;?` or `#[xX][0-9a-fA-F]+;?`
                var j = i + 2
                let hex = j + 1 < s.count && (s[j] == "x" || s[j] == "X") && isHexDigit(s[j + 1])
                if hex { j += 1 } else if !(j < s.count && isASCIIDigit(s[j])) { out.append(s[i]); i += 1; continue }
                let digitsStart = j
                while j < s.count, hex ? isHexDigit(s[j]) : isASCIIDigit(s[j]) { j += 1 }
                let number = characterReference(s[digitsStart..<j], radix: hex ? 16 : 10)
                if j < s.count && s[j] == ";" { j += 1 }
                out += number
                i = j
                continue
            }
            // `[^\t\n\f <&#;]{1,32};?`
            var j = i + 1
            while j < s.count, j - i - 1 < 32, !"\t\n\u{0C} <&#;".unicodeScalars.contains(s[j]) { j += 1 }
            guard j > i + 1 else { out.append(s[i]); i += 1; continue }
            if j < s.count && s[j] == ";" { j += 1 }
            let name = Array(s[(i + 1)..<j])
            if let value = html5[String(String.UnicodeScalarView(name))] {
                out += value
            } else if let x = stride(from: name.count - 1, through: 2, by: -1).first(where: { html5[String(String.UnicodeScalarView(name[..<$0]))] != nil }) {
                out += html5[String(String.UnicodeScalarView(name[..<x]))]!
                out += name[x...]
            } else {
                out.append("&")
                out += name
            }
            i = j
        }
        return out
    }

    /// The characters of a numeric reference, with `html.unescape`'s repairs:
    /// 0 -> U+FFFD, 0x80...0x9F read as windows-1252, surrogates and values above
    /// U+10FFFF -> U+FFFD, other control characters and non-characters dropped.
    static func characterReference(_ digits: ArraySlice<Unicode.Scalar>, radix: UInt32) -> [Unicode.Scalar] {
        var n: UInt32 = 0
        for d in digits {
            let v = d.value <= 0x39 ? d.value - 0x30 : (d.value | 0x20) - 0x61 + 10
            n = min(n * radix + v, 0x110000)  // saturate: anything larger is replaced anyway
        }
        switch n {
        case 0: return ["\u{FFFD}"]
        case 0x0D: return ["\r"]
        case 0x80...0x9F: return [Unicode.Scalar(cp1252High[Int(n - 0x80)])!]
        case 0xD800...0xDFFF, 0x110000...: return ["\u{FFFD}"]
        case 0x01...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0xFDD0...0xFDEF: return []
        default:
            if n & 0xFFFE == 0xFFFE { return [] }
            return [Unicode.Scalar(n)!]
        }
    }

    /// ftfy's `unescape_html`: only `&#?[0-9A-Za-z]{1,24};` (the `;` required), from
    /// its table, or numeric references that `html.unescape` decodes completely.
    static func ftfy(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            guard s[i] == "&" else { out.append(s[i]); i += 1; continue }
            var j = i + 1
            if j < s.count && s[j] == "#" { j += 1 }
            let start = j
            while j < s.count, isASCIIAlphanumeric(s[j]) { j += 1 }
            guard j - start >= 1, j - start <= 24, j < s.count, s[j] == ";" else { out.append(s[i]); i += 1; continue }
            let match = Array(s[i...j])
            if let value = ftfy[String(String.UnicodeScalarView(match))] {
                out += value
            } else if match[1] == "#" {
                let decoded = python(match)
                out += decoded.contains(";") ? match : decoded
            } else {
                out += match
            }
            i = j + 1
        }
        return out
    }
}
