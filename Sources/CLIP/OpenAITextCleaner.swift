import Foundation

/// OpenAI's text clean-up, as CLIP was trained with it (openai-clip's and
/// open_clip's `SimpleTokenizer`): `ftfy.fix_text`, `html.unescape` twice,
/// whitespace runs to one space and stripped, Python's `str.lower`. The result
/// goes to the case-insensitive regex (`OpenAIPreTokenizer`).
///
/// Only part of ftfy is implemented (`FtfySubset`); docs/CLIP.md lists what is not.
enum OpenAITextCleaner {
    static func clean(_ text: String) -> [Unicode.Scalar] {
        var s = FtfySubset.fixText(Array(text.unicodeScalars))
        s = HTMLUnescape.python(HTMLUnescape.python(s))
        var joined: [Unicode.Scalar] = []
        joined.reserveCapacity(s.count)
        for c in s {
            if SlowTextNormalizer.isPythonSpace(c) {
                if let last = joined.last, last != " " { joined.append(" ") }
            } else {
                joined.append(c)
            }
        }
        if joined.last == " " { joined.removeLast() }
        return Array(SlowTextNormalizer.pythonLowercase(joined).unicodeScalars)
    }
}

/// The part of ftfy 6's `fix_text` (default configuration) that is implemented:
/// per line, HTML entities (ftfy's rules; off from the first line containing `<`
/// on), mojibake of UTF-8 read as Latin-1 or windows-1252, C1 controls read as
/// windows-1252, Latin ligatures split, halfwidth/fullwidth forms to normal width,
/// curly quotes straightened, line breaks unified, terminal escapes and control
/// characters removed, NFC — repeated until nothing changes.
///
/// Not implemented: ftfy's badness heuristic that decides whether text *is*
/// mojibake (here any text that re-encodes to valid UTF-8 is decoded), the other
/// single-byte encodings (windows-1250/1251/1253/1254/1257, ISO-8859-2, MacRoman,
/// cp437), `restore_byte_a0`, `decode_inconsistent_utf8` (mojibake inside otherwise good text), and the
/// `utf-8-variants` decoder (CESU-8, Java's modified UTF-8).
enum FtfySubset {
    static func fixText(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var unescape = true
        var start = 0
        while start < text.count {
            var end = start
            while end < text.count, text[end] != "\n" { end += 1 }
            end = min(end + 1, text.count)
            let segment = Array(text[start..<end])
            if segment.contains("<") { unescape = false }
            out += fixSegment(segment, unescapeHTML: unescape)
            start = end
        }
        return out
    }

    static func fixSegment(_ segment: [Unicode.Scalar], unescapeHTML: Bool) -> [Unicode.Scalar] {
        var s = segment
        while true {
            let before = s
            if unescapeHTML { s = HTMLUnescape.ftfy(s) }
            while true {
                let previous = s
                s = fixEncodingStep(s)
                if s == previous { break }
            }
            s = fixC1Controls(s)
            s = fixLigaturesWidthAndQuotes(s)
            s = fixLineBreaks(s)
            s = removeTerminalEscapes(s)
            s = s.filter { !isRemovedControl($0) }
            // NFC as the fixtures' Python 3.11 computes it.
            s = VersionedNFC.normalize(s, unicode: VersionedNFC.python311)
            if s == before { return s }
        }
    }

    /// ftfy's "sloppy" windows-1252 bytes of `s`: the undefined bytes stand for the
    /// C1 code points of the same value, and byte 0x1A for U+FFFD (so a replacement
    /// character survives the round trip; U+001A itself has no byte). nil if some
    /// character has none.
    static func sloppyWindows1252(_ s: [Unicode.Scalar]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        for c in s {
            let v = c.value
            if v == 0xFFFD {
                out.append(0x1A)
            } else if v == 0x1A {
                return nil
            } else if v < 0x80 || (0xA0...0xFF).contains(v) || [0x81, 0x8D, 0x8F, 0x90, 0x9D].contains(v) {
                out.append(UInt8(v))
            } else if let i = HTMLUnescape.cp1252High.firstIndex(of: v) {
                out.append(UInt8(0x80 + i))
            } else {
                return nil
            }
        }
        return out
    }

    static func strictUTF8(_ bytes: [UInt8]) -> [Unicode.Scalar]? {
        var out: [Unicode.Scalar] = []
        var decoder = UTF8()
        var it = bytes.makeIterator()
        while true {
            switch decoder.decode(&it) {
            case .scalarValue(let c): out.append(c)
            case .emptyInput: return out
            case .error: return nil
            }
        }
    }

    /// One step of ftfy's `fix_encoding` for Latin-1 and windows-1252.
    static func fixEncodingStep(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if s.allSatisfy(\.isASCII) { return s }
        let latin1: [UInt8]? = s.allSatisfy { $0.value <= 0xFF } ? s.map { UInt8($0.value) } : nil
        let cp1252 = sloppyWindows1252(s).map(replaceLossySequences)
        for bytes in [latin1, cp1252] {
            // ftfy decodes bytes with 0xED or 0xC0 as utf-8-variants, which is not implemented.
            guard let bytes, !bytes.contains(0xED), !bytes.contains(0xC0) else { continue }
            if let decoded = strictUTF8(bytes) { return decoded }
        }
        // ftfy then reads Latin-1 text with C1 controls as windows-1252, or else fixes
        // the C1 controls alone; both come to the same characters.
        return fixC1Controls(s)
    }

    /// ftfy's `LOSSY_UTF8_RE`, one fixed-length alternative per entry, each position a
    /// set of byte ranges: UTF-8 (and CESU-8) sequences with a lost continuation
    /// byte, shown as 0x1A (from U+FFFD) or once as `?`. Tried in this order at
    /// each position, as the regex's alternatives.
    static let lossySequences: [[[ClosedRange<UInt8>]]] = {
        let lost: [ClosedRange<UInt8>] = [0x1A...0x1A, 0x3F...0x3F]          // [\x1a?]
        let sub: [ClosedRange<UInt8>] = [0x1A...0x1A]
        let subOrCont: [ClosedRange<UInt8>] = [0x1A...0x1A, 0x80...0xBF]     // [\x1a\x80-\xbf]
        let any: [ClosedRange<UInt8>] = [0x1A...0x1A, 0x3F...0x3F, 0x80...0xBF]
        let ed: [ClosedRange<UInt8>] = [0xED...0xED]
        return [
            [[0xC2...0xDF], sub],
            [[0xC2...0xC3], [0x3F...0x3F]],
            [ed, [0xA0...0xAF], lost, ed, [0xB0...0xBF], any],
            [ed, [0xA0...0xAF], any, ed, [0xB0...0xBF], lost],
            [[0xE0...0xEF], lost, subOrCont],
            [[0xE0...0xEF], subOrCont, lost],
            [[0xF0...0xF4], lost, subOrCont, subOrCont],
            [[0xF0...0xF4], subOrCont, lost, subOrCont],
            [[0xF0...0xF4], subOrCont, subOrCont, lost],
            [sub],
        ]
    }()

    /// ftfy's `replace_lossy_sequences`: each match becomes the UTF-8 of U+FFFD.
    static func replaceLossySequences(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(0x1A) || bytes.contains(0x3F) else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        scan: while i < bytes.count {
            for pattern in lossySequences where i + pattern.count <= bytes.count {
                if zip(pattern, bytes[i...]).allSatisfy({ ranges, byte in ranges.contains { $0.contains(byte) } }) {
                    out += [0xEF, 0xBF, 0xBD]
                    i += pattern.count
                    continue scan
                }
            }
            out.append(bytes[i])
            i += 1
        }
        return out
    }

    static func fixC1Controls(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        s.map { (0x80...0x9F).contains($0.value) ? Unicode.Scalar(HTMLUnescape.cp1252High[Int($0.value - 0x80)])! : $0 }
    }

    static let ligatures: [UInt32: String] = [
        0x132: "IJ", 0x133: "ij", 0x149: "\u{2BC}n", 0x1F1: "DZ", 0x1F2: "Dz", 0x1F3: "dz", 0x1C4: "D\u{17D}", 0x1C5: "D\u{17E}",
        0x1C6: "d\u{17E}", 0x1C7: "LJ", 0x1C8: "Lj", 0x1C9: "lj", 0x1CA: "NJ", 0x1CB: "Nj", 0x1CC: "nj",
        0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl", 0xFB05: "\u{17F}t", 0xFB06: "st",
    ]
    static let width: [UInt32: [Unicode.Scalar]] = {
        var t: [UInt32: [Unicode.Scalar]] = [:]
        for (k, v) in HTMLUnescape.table(HTMLEntityData.width) { t[k.unicodeScalars.first!.value] = v }
        return t
    }()

    /// ftfy's `fix_latin_ligatures`, `fix_character_width`, `uncurl_quotes`, in that order.
    static func fixLigaturesWidthAndQuotes(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var a: [Unicode.Scalar] = []
        a.reserveCapacity(s.count)
        for c in s {
            if let l = ligatures[c.value] { a += l.unicodeScalars } else { a.append(c) }
        }
        var b: [Unicode.Scalar] = []
        b.reserveCapacity(a.count)
        for c in a {
            if let w = width[c.value] { b += w } else { b.append(c) }
        }
        return b.map { c in
            switch c.value {
            case 0x2BC, 0x2018...0x201B: return "'"
            case 0x201C...0x201F: return "\""
            default: return c
            }
        }
    }

    /// `\r\n`, `\r`, U+2028, U+2029, U+0085 -> `\n`.
    static func fixLineBreaks(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            switch s[i].value {
            case 0x0D:
                out.append("\n")
                if i + 1 < s.count && s[i + 1] == "\n" { i += 1 }
            case 0x2028, 0x2029, 0x85: out.append("\n")
            default: out.append(s[i])
            }
            i += 1
        }
        return out
    }

    /// `ESC [ (digits or ;)* letter` removed.
    static func removeTerminalEscapes(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("\u{1B}") else { return s }
        var out: [Unicode.Scalar] = []
        var i = 0
        while i < s.count {
            if s[i] == "\u{1B}", i + 1 < s.count, s[i + 1] == "[" {
                var j = i + 2
                // Python's `\d` is any decimal digit, not only ASCII.
                while j < s.count, s[j] == ";" || s[j].properties.generalCategory == .decimalNumber { j += 1 }
                if j < s.count, s[j].isASCII, s[j].properties.isAlphabetic {
                    i = j + 1
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    /// ftfy's `remove_control_chars`: C0 controls except tab, LF, FF, CR; DEL;
    /// the deprecated format characters U+206A–206F; U+FEFF; U+FFF9–FFFC.
    static func isRemovedControl(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC: return true
        default: return false
        }
    }
}
