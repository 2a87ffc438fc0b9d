/// CLIP's original pre-tokenizer regex (OpenAI's `SimpleTokenizer`, transformers'
/// slow `CLIPTokenizer`), written out as a scanner over code points:
///
///     <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
///
/// matched case-insensitively (`regex.IGNORECASE`), first alternative wins, and
/// positions where nothing matches (whitespace) skipped — the semantics of
/// `regex.findall`. Used by `TextCleaning.openai` and `.transformersSlow`; the
/// default, `FastPreTokenizer`, is case-sensitive.
enum OpenAIPreTokenizer {
    static func split(_ s: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var tokens: [[Unicode.Scalar]] = []
        var i = 0
        while i < s.count {
            let length = matchLength(s, at: i)
            if length == 0 {
                i += 1
            } else {
                tokens.append(Array(s[i..<(i + length)]))
                i += length
            }
        }
        return tokens
    }

    static let specials: [[Unicode.Scalar]] = ["<|startoftext|>", "<|endoftext|>"].map { Array($0.unicodeScalars) }
    /// The contractions, in the regex's order.
    static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.unicodeScalars) }

    /// Length of the regex match starting exactly at `i`, 0 if none.
    static func matchLength(_ s: [Unicode.Scalar], at i: Int) -> Int {
        for special in specials where matchesIgnoringCase(s, special, at: i) { return special.count }
        if s[i] == "'" {
            for c in contractions where matchesIgnoringCase(s, c, at: i + 1) { return c.count + 1 }
        }
        if isLetter(s[i]) {
            var j = i + 1
            while j < s.count, isLetter(s[j]) { j += 1 }
            return j - i
        }
        if isNumber(s[i]) { return 1 }
        if isWhitespace(s[i]) { return 0 }
        var j = i + 1
        while j < s.count, !isLetter(s[j]), !isNumber(s[j]), !isWhitespace(s[j]) { j += 1 }
        return j - i
    }

    /// Case-insensitive match of an ASCII pattern, using simple case folding
    /// (so the long s "ſ" matches "s" and the Kelvin sign matches "k", as in the `regex` module).
    static func matchesIgnoringCase(_ s: [Unicode.Scalar], _ p: [Unicode.Scalar], at i: Int) -> Bool {
        guard i + p.count <= s.count else { return false }
        for k in 0..<p.count where fold(s[i + k]) != p[k] { return false }
        return true
    }

    static func fold(_ c: Unicode.Scalar) -> Unicode.Scalar {
        switch c.value {
        case 0x41...0x5A: return Unicode.Scalar(c.value + 0x20)!
        case 0x017F: return "s"
        case 0x212A: return "k"
        default: return c
        }
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// Characters neither branch of the regex matches. Besides whitespace this is
    /// U+0345 (combining ypogegrammeni): under IGNORECASE the `regex` module
    /// excludes it from `[^\s\p{L}\p{N}]` because it case-folds to a letter (iota),
    /// yet `[\p{L}]` does not match it either, so `findall` skips it. (Found by
    /// checking every assigned code point against the `regex` module.)
    static func isWhitespace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace || c.value == 0x0345 }
}
