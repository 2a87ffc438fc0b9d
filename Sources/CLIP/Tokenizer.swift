import Foundation

/// CLIP's byte-level BPE tokenizer. By default it produces the same ids as
/// Hugging Face's `CLIPTokenizerFast` (tokenizer.json), which is what
/// `CLIPProcessor` runs; `TextCleaning` selects the other pipelines.
///
/// Symbols are handled as vocabulary ids throughout: every merge result is
/// itself a vocabulary entry, so BPE works on small integer arrays.
public struct CLIPTokenizer: Sendable {
    public static let startOfText = "<|startoftext|>"
    public static let endOfText = "<|endoftext|>"

    /// id of `<|startoftext|>` (49406 in CLIP's vocabulary).
    public let startTokenId: Int
    /// id of `<|endoftext|>` (49407); also used for padding, as transformers does.
    public let endTokenId: Int
    /// Tokens per sequence including the start and end tokens (77 for CLIP).
    public private(set) var contextLength: Int
    /// How text is prepared before BPE.
    public private(set) var cleaning: TextCleaning

    /// The same vocabulary with another sequence length.
    public func withContextLength(_ n: Int) -> CLIPTokenizer {
        var copy = self
        copy.contextLength = n
        return copy
    }

    /// The same vocabulary with another text clean-up.
    public func withCleaning(_ cleaning: TextCleaning) -> CLIPTokenizer {
        var copy = self
        copy.cleaning = cleaning
        return copy
    }

    /// Added tokens of the `.huggingFace` pipeline; without a tokenizer.json, the
    /// hub checkpoint's (both special tokens, matched after normalisation).
    let addedTokens: AddedTokens

    /// token string -> id
    let vocabulary: [String: Int]
    /// (left id, right id) packed into 64 bits -> (rank, merged id)
    let merges: [UInt64: (rank: Int32, merged: Int32)]
    /// vocabulary id of each byte's printable stand-in, without and with `</w>`.
    let byteIds: [Int32]
    let byteIdsEndOfWord: [Int32]

    /// Number of merges CLIP uses: 49152 - 256 - 2 (the file holds a few more).
    static let mergeCount = 49152 - 256 - 2

    /// Loads Hugging Face's `vocab.json` and `merges.txt`.
    public init(vocabularyURL: URL, mergesURL: URL, contextLength: Int = 77, cleaning: TextCleaning = .huggingFace) throws {
        let vocabData: Data
        do { vocabData = try Data(contentsOf: vocabularyURL) } catch { throw CLIPLoadError.fileNotFound(vocabularyURL.path) }
        guard let object = try? JSONSerialization.jsonObject(with: vocabData) as? [String: Any] else {
            throw CLIPLoadError.badVocabulary(vocabularyURL.path, "not a JSON object of token -> id")
        }
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(object.count)
        for (token, value) in object {
            guard let id = (value as? NSNumber)?.intValue else {
                throw CLIPLoadError.badVocabulary(vocabularyURL.path, "id of '\(token)' is not a number")
            }
            vocab[token] = id
        }
        let mergesText: String
        do { mergesText = try String(contentsOf: mergesURL, encoding: .utf8) } catch {
            throw CLIPLoadError.fileNotFound(mergesURL.path)
        }
        let pairs = try Self.parseMerges(mergesText, path: mergesURL.path)
        try self.init(vocabulary: vocab, merges: pairs, contextLength: contextLength, cleaning: cleaning, path: vocabularyURL.path)
    }

    /// Loads OpenAI's `bpe_simple_vocab_16e6.txt.gz`; the vocabulary is derived
    /// from the merges the way OpenAI's `SimpleTokenizer` builds it.
    public init(openAIVocabularyURL url: URL, contextLength: Int = 77, cleaning: TextCleaning = .huggingFace) throws {
        let text = try Gzip.decompressFile(at: url.path)
        guard let mergesText = String(data: text, encoding: .utf8) else {
            throw CLIPLoadError.badVocabulary(url.path, "not UTF-8 text")
        }
        let pairs = try Self.parseMerges(mergesText, path: url.path)
        var tokens: [String] = ByteEncoding.vocabularyOrder.map { String($0) }
        tokens += tokens.map { $0 + "</w>" }
        tokens += pairs.map { $0.0 + $0.1 }
        tokens += [Self.startOfText, Self.endOfText]
        var vocab: [String: Int] = [:]
        for (i, t) in tokens.enumerated() { vocab[t] = i }
        try self.init(vocabulary: vocab, merges: pairs, contextLength: contextLength, cleaning: cleaning, path: url.path)
    }

    /// Loads a Hugging Face `tokenizer.json`: vocabulary, merges, added tokens and
    /// split regex from the file. Files whose normalizer or pre-tokenizer is not
    /// CLIP's are refused.
    public init(tokenizerJSONURL url: URL, contextLength: Int = 77, cleaning: TextCleaning = .huggingFace) throws {
        let file = try TokenizerJSON(contentsOf: url)
        try self.init(vocabulary: file.vocabulary, merges: file.merges, contextLength: contextLength, cleaning: cleaning,
                      addedTokens: file.addedTokens, path: url.path)
    }

    /// Loads whichever vocabulary a model directory has: `tokenizer.json`, else
    /// `vocab.json` + `merges.txt`, else `bpe_simple_vocab_16e6.txt.gz`.
    public init(directory: URL, contextLength: Int = 77, cleaning: TextCleaning = .huggingFace) throws {
        let json = directory.appendingPathComponent("tokenizer.json")
        let vocab = directory.appendingPathComponent("vocab.json")
        let merges = directory.appendingPathComponent("merges.txt")
        let gz = directory.appendingPathComponent("bpe_simple_vocab_16e6.txt.gz")
        let fm = FileManager.default
        if fm.fileExists(atPath: json.path) {
            try self.init(tokenizerJSONURL: json, contextLength: contextLength, cleaning: cleaning)
        } else if fm.fileExists(atPath: vocab.path) && fm.fileExists(atPath: merges.path) {
            try self.init(vocabularyURL: vocab, mergesURL: merges, contextLength: contextLength, cleaning: cleaning)
        } else if fm.fileExists(atPath: gz.path) {
            try self.init(openAIVocabularyURL: gz, contextLength: contextLength, cleaning: cleaning)
        } else {
            throw CLIPLoadError.fileNotFound("\(vocab.path) (+ merges.txt) or \(gz.path)")
        }
    }

    /// The first `mergeCount` merge rules after the version line.
    static func parseMerges(_ text: String, path: String) throws -> [(String, String)] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // transformers strips the file before splitting; an empty last line must not count.
        while let last = lines.last, last.allSatisfy({ $0.isWhitespace }) { lines.removeLast() }
        guard lines.count > 1 else { throw CLIPLoadError.badVocabulary(path, "no merge rules") }
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(mergeCount)
        for (n, line) in lines.dropFirst().prefix(mergeCount).enumerated() {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else {
                throw CLIPLoadError.badVocabulary(path, "line \(n + 2) is not a pair of symbols: '\(line)'")
            }
            pairs.append((String(parts[0]), String(parts[1])))
        }
        guard pairs.count == mergeCount else {
            throw CLIPLoadError.badVocabulary(path, "has \(pairs.count) merge rules, CLIP needs \(mergeCount) (truncated file?)")
        }
        return pairs
    }

    init(vocabulary: [String: Int], merges pairs: [(String, String)], contextLength: Int, cleaning: TextCleaning,
         addedTokens: AddedTokens? = nil, path: String) throws {
        func id(_ token: String) throws -> Int {
            guard let id = vocabulary[token] else {
                throw CLIPLoadError.badVocabulary(path, "token '\(token)' is missing from the vocabulary")
            }
            return id
        }
        self.vocabulary = vocabulary
        self.contextLength = contextLength
        self.cleaning = cleaning
        startTokenId = try id(Self.startOfText)
        endTokenId = try id(Self.endOfText)
        self.addedTokens = addedTokens ?? AddedTokens(tokens: [
            .init(content: Array(Self.startOfText.unicodeScalars), id: startTokenId, normalized: true),
            .init(content: Array(Self.endOfText.unicodeScalars), id: endTokenId, normalized: true),
        ])
        byteIds = try ByteEncoding.byteToUnicode.map { Int32(try id(String($0))) }
        byteIdsEndOfWord = try ByteEncoding.byteToUnicode.map { Int32(try id(String($0) + "</w>")) }
        var table: [UInt64: (rank: Int32, merged: Int32)] = [:]
        table.reserveCapacity(pairs.count)
        for (rank, (a, b)) in pairs.enumerated() {
            let key = Self.pairKey(Int32(try id(a)), Int32(try id(b)))
            // Python's dict(zip(merges, range(n))) keeps the last rank of a duplicate.
            table[key] = (Int32(rank), Int32(try id(a + b)))
        }
        merges = table
    }

    @inline(__always) static func pairKey(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }

    /// The BPE token ids of `text`, without start/end tokens and without truncation.
    public func encodeWithoutSpecialTokens(_ text: String) -> [Int] {
        switch cleaning {
        case .huggingFace: return encodeFast(text)
        case .transformersSlow: return encodeSlow(text)
        case .openai: return encodeOpenAI(text)
        }
    }

    /// OpenAI's `SimpleTokenizer.encode`: clean, then the case-insensitive regex over
    /// the whole text (which also matches the special tokens, in any case).
    func encodeOpenAI(_ text: String) -> [Int] {
        var ids: [Int] = []
        for token in OpenAIPreTokenizer.split(OpenAITextCleaner.clean(text)) { ids += bpe(token) }
        return ids
    }

    /// tokenizers' order: added tokens with `normalized: false` are split off the raw
    /// text, each remaining piece is normalised, then split on the normalised added
    /// tokens, pre-tokenised and byte-pair encoded.
    func encodeFast(_ text: String) -> [Int] {
        var ids: [Int] = []
        var bytes: [UInt8] = []
        let raw = Array(text.unicodeScalars)
        for piece in addedTokens.split(raw, normalized: false) {
            guard case .text(let range) = piece else {
                if case .token(let id) = piece { ids.append(id) }
                continue
            }
            let normalized = FastNormalizer.normalize(Array(raw[range]))
            for inner in addedTokens.split(normalized, normalized: true) {
                guard case .text(let range) = inner else {
                    if case .token(let id) = inner { ids.append(id) }
                    continue
                }
                let segment = Array(normalized[range])
                for word in FastPreTokenizer.split(segment) {
                    bytes.removeAll(keepingCapacity: true)
                    for s in segment[word] { UTF8.encode(s) { bytes.append($0) } }
                    bpe(bytes, into: &ids)
                }
            }
        }
        return ids
    }

    /// transformers 4's slow tokenizer without ftfy.
    func encodeSlow(_ text: String) -> [Int] {
        var ids: [Int] = []
        for piece in Self.splitOnSpecialTokens(text) {
            switch piece {
            case .special(let token):
                ids.append(token == Self.startOfText ? startTokenId : endTokenId)
            case .text(let text):
                for word in SlowTextNormalizer.words(text) {
                    for token in OpenAIPreTokenizer.split(Array(word.unicodeScalars)) {
                        ids.append(contentsOf: bpe(token))
                    }
                }
            }
        }
        return ids
    }

    /// `[start] + ids + [end]`, keeping at most `contextLength - 2` text tokens
    /// (the end token survives truncation), as `tokenizer(text, truncation=True)`.
    public func encode(_ text: String) -> [Int] {
        let body = encodeWithoutSpecialTokens(text).prefix(max(0, contextLength - 2))
        return [startTokenId] + body + [endTokenId]
    }

    /// `encode` padded with the end token to exactly `contextLength` ids.
    public func encodePadded(_ text: String) -> [Int] {
        var ids = encode(text)
        ids += Array(repeating: endTokenId, count: contextLength - ids.count)
        return ids
    }

    enum Piece: Equatable { case text(String), special(String) }

    /// transformers splits the raw text on its added (special) tokens, matched
    /// case-sensitively, before any clean-up.
    static func splitOnSpecialTokens(_ text: String) -> [Piece] {
        let scalars = Array(text.unicodeScalars)
        let specials = [startOfText, endOfText].map { Array($0.unicodeScalars) }
        var pieces: [Piece] = []
        var start = 0
        var i = 0
        while i < scalars.count {
            if scalars[i] == "<", let match = specials.first(where: { Self.hasPrefix(scalars, $0, at: i) }) {
                if i > start { pieces.append(.text(String(String.UnicodeScalarView(scalars[start..<i])))) }
                pieces.append(.special(String(String.UnicodeScalarView(match))))
                i += match.count
                start = i
            } else {
                i += 1
            }
        }
        if start < scalars.count { pieces.append(.text(String(String.UnicodeScalarView(scalars[start...])))) }
        return pieces
    }

    static func hasPrefix(_ s: [Unicode.Scalar], _ p: [Unicode.Scalar], at i: Int) -> Bool {
        guard i + p.count <= s.count else { return false }
        for k in 0..<p.count where s[i + k] != p[k] { return false }
        return true
    }

    /// Byte-pair encodes one pre-token of the case-insensitive regex, where a
    /// special token written in another case arrives lowercased and gets its id.
    func bpe(_ token: [Unicode.Scalar]) -> [Int] {
        let text = String(String.UnicodeScalarView(token))
        // Special tokens reached here only when written in another case and then lowercased.
        if text == Self.startOfText { return [startTokenId] }
        if text == Self.endOfText { return [endTokenId] }
        var ids: [Int] = []
        bpe(Array(text.utf8), into: &ids)
        return ids
    }

    /// Byte-pair encodes the UTF-8 bytes of one pre-token, appending the ids: the
    /// last byte is marked end-of-word, then the adjacent pair with the lowest rank
    /// is merged everywhere it occurs, until no pair has a rank.
    func bpe(_ bytes: [UInt8], into ids: inout [Int]) {
        guard !bytes.isEmpty else { return }
        var word = bytes.dropLast().map { byteIds[Int($0)] }
        word.append(byteIdsEndOfWord[Int(bytes.last!)])
        while word.count > 1 {
            var best: (rank: Int32, merged: Int32)? = nil
            var bestKey: UInt64 = 0
            for i in 0..<(word.count - 1) {
                let key = Self.pairKey(word[i], word[i + 1])
                if let m = merges[key], best == nil || m.rank < best!.rank {
                    best = m
                    bestKey = key
                }
            }
            guard let merge = best else { break }
            let first = Int32(bitPattern: UInt32(bestKey >> 32))
            let second = Int32(bitPattern: UInt32(bestKey & 0xFFFF_FFFF))
            var next: [Int32] = []
            next.reserveCapacity(word.count)
            var i = 0
            while i < word.count {
                if i + 1 < word.count && word[i] == first && word[i + 1] == second {
                    next.append(merge.merged)
                    i += 2
                } else {
                    next.append(word[i])
                    i += 1
                }
            }
            word = next
        }
        for id in word { ids.append(Int(id)) }
    }
}

/// GPT-2/CLIP's reversible map from bytes to printable code points, so BPE never
/// sees whitespace or control bytes.
enum ByteEncoding {
    /// Stand-in character of each byte value 0...255.
    static let byteToUnicode: [Character] = {
        var printable: [Int] = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var mapped = printable
        var extra = 0
        for b in 0..<256 where !printable.contains(b) {
            printable.append(b)
            mapped.append(256 + extra)
            extra += 1
        }
        var table = [Character](repeating: " ", count: 256)
        for (b, c) in zip(printable, mapped) { table[b] = Character(Unicode.Scalar(UInt32(c))!) }
        return table
    }()

    /// The 256 stand-ins in the order OpenAI lists them first in the vocabulary
    /// (printable bytes first, then the rest).
    static let vocabularyOrder: [Character] = {
        let printable: [Int] = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        let rest = (0..<256).filter { !printable.contains($0) }
        return (printable + rest).map { byteToUnicode[$0] }
    }()
}
