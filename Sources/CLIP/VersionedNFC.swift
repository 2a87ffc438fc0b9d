import Foundation

/// NFC as an implementation with older Unicode tables computes it. The
/// references fix their own Unicode version: tokenizers' NFC tables are
/// Unicode 9.0 (found by probing every combining mark), Python 3.11's are 14.0,
/// while Swift's are newer. A character assigned after the reference's version
/// is unknown there: combining class 0, no decomposition, no composition — a
/// starter that nothing reorders across or composes with. So the text is cut at
/// such characters, which are kept as they are, and the pieces between them are
/// normalised by Foundation (normalisation of characters that were already
/// assigned never changes, by Unicode's stability policy).
///
/// Afterwards each run of combining marks is put in canonical order, because
/// Foundation on Linux leaves some unsorted (the marks of the decomposed
/// Tibetan vowel signs U+0F73, U+0F75, U+0F81).
enum VersionedNFC {
    /// Unicode version of tokenizers' NFC tables (`unicode-normalization-alignments`).
    static let tokenizers = (major: 9, minor: 0)
    /// Unicode version of Python 3.11's `unicodedata` (ftfy's NFC in the OpenAI fixtures).
    static let python311 = (major: 14, minor: 0)

    static func normalize(_ s: [Unicode.Scalar], unicode version: (major: Int, minor: Int)) -> [Unicode.Scalar] {
        if s.allSatisfy(\.isASCII) { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var start = 0
        for (i, c) in s.enumerated() where !c.isASCII && isNewer(c, than: version) {
            out += composed(s[start..<i])
            out.append(c)
            start = i + 1
        }
        out += composed(s[start...])
        return out
    }

    static func isNewer(_ c: Unicode.Scalar, than version: (major: Int, minor: Int)) -> Bool {
        guard let age = c.properties.age else { return true }
        return age.major > version.major || (age.major == version.major && age.minor > version.minor)
    }

    static func composed(_ piece: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar] {
        if piece.isEmpty { return [] }
        if piece.allSatisfy(\.isASCII) { return Array(piece) }
        var s = Array(String(String.UnicodeScalarView(piece)).precomposedStringWithCanonicalMapping.unicodeScalars)
        canonicalOrder(&s)
        return s
    }

    /// Stable sort of every run of non-starters by combining class.
    static func canonicalOrder(_ s: inout [Unicode.Scalar]) {
        var i = 0
        while i < s.count {
            guard s[i].properties.canonicalCombiningClass.rawValue != 0 else { i += 1; continue }
            var j = i + 1
            while j < s.count, s[j].properties.canonicalCombiningClass.rawValue != 0 { j += 1 }
            if j - i > 1 {
                let run = s[i..<j].enumerated().sorted {
                    let a = $0.element.properties.canonicalCombiningClass.rawValue, b = $1.element.properties.canonicalCombiningClass.rawValue
                    return a != b ? a < b : $0.offset < $1.offset
                }
                s.replaceSubrange(i..<j, with: run.map(\.element))
            }
            i = j
        }
    }
}
