import Foundation

/// Text clean-up that Hugging Face's slow `CLIPTokenizer` applies when ftfy is
/// not installed (its `BasicTokenizer` with accent stripping and punctuation
/// splitting turned off). Works on Unicode scalars because Python strings are
/// sequences of code points, not grapheme clusters.
///
/// Steps, in transformers' order: drop NUL, U+FFFD and control/format/unassigned
/// characters; turn whitespace into spaces; put spaces around CJK ideographs;
/// NFC; split on whitespace; lowercase each word the way Python's `str.lower`
/// does (full case mapping with the Greek final-sigma rule).
enum SlowTextNormalizer {
    /// The words of `text` after clean-up, lowercased.
    static func words(_ text: String) -> [String] {
        var cleaned = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v == 0 || v == 0xFFFD || isControl(scalar) { continue }
            if isCleanWhitespace(scalar) {
                cleaned.append(" ")
            } else if isCJKIdeograph(v) {
                cleaned.append(" ")
                cleaned.append(scalar)
                cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        let normalized = String(cleaned).precomposedStringWithCanonicalMapping
        var words: [String] = []
        var current: [Unicode.Scalar] = []
        for scalar in normalized.unicodeScalars {
            if isPythonSpace(scalar) {
                if !current.isEmpty { words.append(pythonLowercase(current)); current.removeAll(keepingCapacity: true) }
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { words.append(pythonLowercase(current)) }
        return words
    }

    /// transformers' `_is_control`: any "C*" category except tab, newline and carriage return.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// transformers' `_is_whitespace`: space, tab, newline, carriage return, or category Zs.
    static func isCleanWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == " " || s == "\t" || s == "\n" || s == "\r" || s.properties.generalCategory == .spaceSeparator
    }

    /// The "CJK Unified Ideographs" ranges BERT-style tokenizers isolate.
    static func isCJKIdeograph(_ cp: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(cp) || (0x3400...0x4DBF).contains(cp)
            || (0x20000...0x2A6DF).contains(cp) || (0x2A700...0x2B73F).contains(cp)
            || (0x2B740...0x2B81F).contains(cp) || (0x2B820...0x2CEAF).contains(cp)
            || (0xF900...0xFAFF).contains(cp) || (0x2F800...0x2FA1F).contains(cp)
    }

    /// Python's `str.isspace` (what `str.split()` splits on): category Zs or
    /// bidirectional class WS, B or S. Swift does not expose bidi classes, so
    /// the (short, stable) list is spelled out.
    static func isPythonSpace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// Python's `str.lower`: full lowercase mapping per code point, except that
    /// capital sigma becomes final sigma (U+03C2) at the end of a word.
    static func pythonLowercase(_ scalars: [Unicode.Scalar]) -> String {
        var out = String.UnicodeScalarView()
        for (i, s) in scalars.enumerated() {
            if s.value == 0x03A3 {
                out.append(Unicode.Scalar(isFinalSigma(scalars, at: i) ? 0x03C2 : 0x03C3)!)
            } else {
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return String(out)
    }

    /// Unicode's Final_Sigma condition, as CPython implements it: a cased letter
    /// before (skipping case-ignorables) and none after.
    private static func isFinalSigma(_ s: [Unicode.Scalar], at i: Int) -> Bool {
        var j = i - 1
        while j >= 0, s[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0, s[j].properties.isCased else { return false }
        var k = i + 1
        while k < s.count, s[k].properties.isCaseIgnorable { k += 1 }
        return k == s.count || !s[k].properties.isCased
    }
}
