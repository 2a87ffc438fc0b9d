import Foundation

/// What `CLIPTokenizer` takes from a Hugging Face `tokenizer.json`: the BPE
/// vocabulary and merges and the added tokens, after checking that the
/// normalizer and pre-tokenizer are CLIP's. Any other normalizer, pre-tokenizer or
/// model is refused rather than silently tokenised another way.
struct TokenizerJSON {
    var vocabulary: [String: Int]
    var merges: [(String, String)]
    var addedTokens: AddedTokens

    static let normalizer = #"[{"type":"NFC"},{"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "},{"type":"Lowercase"}]"#
    static let splitRegex = #"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"#
    static let specialsPrefix = #"<\|startoftext\|>|<\|endoftext\|>|"#

    init(contentsOf url: URL) throws {
        let path = url.path
        guard let data = try? Data(contentsOf: url) else { throw CLIPLoadError.fileNotFound(path) }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CLIPLoadError.badVocabulary(path, "not a JSON object")
        }
        func fail(_ why: String) -> CLIPLoadError { .badVocabulary(path, why) }

        // Normalizer: exactly NFC, Replace(\s+ -> " "), Lowercase.
        guard let normalizer = json["normalizer"] as? [String: Any], normalizer["type"] as? String == "Sequence",
              let steps = normalizer["normalizers"] as? [[String: Any]], steps.count == 3,
              steps[0]["type"] as? String == "NFC",
              steps[1]["type"] as? String == "Replace", (steps[1]["pattern"] as? [String: Any])?["Regex"] as? String == #"\s+"#,
              steps[1]["content"] as? String == " ",
              steps[2]["type"] as? String == "Lowercase" else {
            throw fail("unsupported normalizer (CLIP's is NFC, Replace \\s+ with a space, Lowercase)")
        }
        // Pre-tokenizer: Split(CLIP regex, Removed, invert) then ByteLevel without a prefix space.
        guard let pre = json["pre_tokenizer"] as? [String: Any], pre["type"] as? String == "Sequence",
              let parts = pre["pretokenizers"] as? [[String: Any]], parts.count == 2,
              parts[0]["type"] as? String == "Split", parts[0]["behavior"] as? String == "Removed",
              (parts[0]["invert"] as? NSNumber)?.boolValue == true,
              let regex = (parts[0]["pattern"] as? [String: Any])?["Regex"] as? String,
              parts[1]["type"] as? String == "ByteLevel", (parts[1]["add_prefix_space"] as? NSNumber)?.boolValue != true else {
            throw fail("unsupported pre_tokenizer (CLIP's is Split with its regex, then ByteLevel)")
        }
        // transformers 5 writes the regex with the special tokens as first branches;
        // the ids are the same (see FastPreTokenizer).
        guard regex == Self.splitRegex || regex == Self.specialsPrefix + Self.splitRegex else {
            throw fail("unsupported split regex \(regex)")
        }
        guard let model = json["model"] as? [String: Any], model["type"] as? String == "BPE",
              model["end_of_word_suffix"] as? String == "</w>",
              (model["continuing_subword_prefix"] as? String ?? "").isEmpty,
              let vocab = model["vocab"] as? [String: Any], let mergeList = model["merges"] as? [Any] else {
            throw fail("model is not a BPE with the end-of-word suffix </w>")
        }
        vocabulary = [:]
        vocabulary.reserveCapacity(vocab.count)
        for (token, value) in vocab {
            guard let id = (value as? NSNumber)?.intValue else { throw fail("id of '\(token)' is not a number") }
            vocabulary[token] = id
        }
        // Merges are "a b" strings (tokenizers < 0.20) or ["a", "b"] pairs.
        merges = []
        merges.reserveCapacity(mergeList.count)
        for (n, item) in mergeList.enumerated() {
            if let s = item as? String {
                let p = s.split(separator: " ", omittingEmptySubsequences: false)
                guard p.count == 2 else { throw fail("merge \(n) is not a pair: '\(s)'") }
                merges.append((String(p[0]), String(p[1])))
            } else if let p = item as? [String], p.count == 2 {
                merges.append((p[0], p[1]))
            } else {
                throw fail("merge \(n) is not a pair")
            }
        }
        var tokens: [AddedTokens.Token] = []
        for t in json["added_tokens"] as? [[String: Any]] ?? [] {
            guard let content = t["content"] as? String, let id = (t["id"] as? NSNumber)?.intValue else {
                throw fail("added token without content or id")
            }
            for flag in ["lstrip", "rstrip", "single_word"] where (t[flag] as? NSNumber)?.boolValue == true {
                throw fail("added token '\(content)' uses \(flag), which is not supported")
            }
            tokens.append(.init(content: Array(content.unicodeScalars), id: id, normalized: (t["normalized"] as? NSNumber)?.boolValue ?? true))
        }
        addedTokens = AddedTokens(tokens: tokens)
    }
}
