import Foundation

/// The normalizer of CLIP's tokenizer.json: `NFC`, then `Replace(\s+, " ")`, then
/// `Lowercase`, in that order. Works on code points, as the tokenizers library does.
enum FastNormalizer {
    static func normalize(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        // NFC with the Unicode version of tokenizers' tables (ASCII is returned as is).
        let composed = VersionedNFC.normalize(text, unicode: VersionedNFC.tokenizers)
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(composed.count)
        var inSpace = false
        for s in composed {
            if isRegexSpace(s) {
                if !inSpace { out.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            if s.isASCII {
                out.append(s.value >= 0x41 && s.value <= 0x5A ? Unicode.Scalar(s.value + 0x20)! : s)
            } else {
                // tokenizers lowercases each character on its own (Rust's char::to_lowercase,
                // the full mapping without context), so capital sigma is always σ, never ς.
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    /// `\s` of the Oniguruma engine tokenizers uses: U+0009–000D, U+0085 and the
    /// categories Zs, Zl, Zp. Not U+001C–001F (Python's `isspace` has them), nor
    /// zero-width or format characters such as U+200B and U+FEFF.
    @inline(__always) static func isRegexSpace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x20, 0x85: return true
        case 0...0x9F: return false
        default:
            switch s.properties.generalCategory {
            case .spaceSeparator, .lineSeparator, .paragraphSeparator: return true
            default: return false
            }
        }
    }
}

/// The Split pre-tokenizer of CLIP's tokenizer.json (behaviour `Removed`,
/// inverted: the matches are kept, everything between them dropped):
///
///     's|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
///
/// case-sensitive (the text is lowercased already), first alternative wins.
/// The `ByteLevel` step that follows in the JSON re-splits each piece with
/// GPT-2's regex, which leaves all of these pieces whole, so it only maps bytes
/// (done in BPE). transformers 5's own `CLIPTokenizer` puts
/// `<\|startoftext\|>|<\|endoftext\|>` in front of the regex; that changes
/// nothing either, because ByteLevel splits such a piece again into `<|`, the
/// word and `|>`, which is what this regex gives.
enum FastPreTokenizer {
    static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.unicodeScalars) }

    /// The pieces of `s`, as ranges of code point indices.
    static func split(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var i = 0
        while i < s.count {
            let length = matchLength(s, at: i)
            if length == 0 {
                i += 1
            } else {
                pieces.append(i..<(i + length))
                i += length
            }
        }
        return pieces
    }

    static func matchLength(_ s: [Unicode.Scalar], at i: Int) -> Int {
        if s[i] == "'" {
            for c in contractions where hasPrefix(s, c, at: i + 1) { return c.count + 1 }
        }
        if isLetter(s[i]) {
            var j = i + 1
            while j < s.count, isLetter(s[j]) { j += 1 }
            return j - i
        }
        if isNumber(s[i]) { return 1 }
        if FastNormalizer.isRegexSpace(s[i]) { return 0 }
        var j = i + 1
        while j < s.count, !isLetter(s[j]), !isNumber(s[j]), !FastNormalizer.isRegexSpace(s[j]) { j += 1 }
        return j - i
    }

    @inline(__always) static func hasPrefix(_ s: [Unicode.Scalar], _ p: [Unicode.Scalar], at i: Int) -> Bool {
        guard i + p.count <= s.count else { return false }
        for k in 0..<p.count where s[i + k] != p[k] { return false }
        return true
    }

    @inline(__always) static func isLetter(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return (c.value | 0x20) >= 0x61 && (c.value | 0x20) <= 0x7A }
        return OpenAIPreTokenizer.isLetter(c)
    }

    @inline(__always) static func isNumber(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return c.value >= 0x30 && c.value <= 0x39 }
        return OpenAIPreTokenizer.isNumber(c)
    }
}

/// Added (special) tokens as tokenizers matches them: tokens with
/// `"normalized": false` in the raw text before normalisation, tokens with
/// `"normalized": true` in the normalised text; the leftmost match wins, the
/// longer of two starting at the same place.
struct AddedTokens: Sendable {
    struct Token: Sendable {
        var content: [Unicode.Scalar]
        var id: Int
        var normalized: Bool
    }
    var tokens: [Token]

    enum Piece { case text(Range<Int>), token(Int) }

    /// Splits `s` on the tokens whose `normalized` flag is `normalized`.
    func split(_ s: [Unicode.Scalar], normalized: Bool) -> [Piece] {
        let candidates = tokens.filter { $0.normalized == normalized && !$0.content.isEmpty }
        if candidates.isEmpty { return s.isEmpty ? [] : [.text(0..<s.count)] }
        var pieces: [Piece] = []
        var start = 0, i = 0
        while i < s.count {
            var best: Token? = nil
            for t in candidates where t.content[0] == s[i] && FastPreTokenizer.hasPrefix(s, t.content, at: i) {
                if best == nil || t.content.count > best!.content.count { best = t }
            }
            if let best {
                if i > start { pieces.append(.text(start..<i)) }
                pieces.append(.token(best.id))
                i += best.content.count
                start = i
            } else {
                i += 1
            }
        }
        if start < s.count { pieces.append(.text(start..<s.count)) }
        return pieces
    }
}
