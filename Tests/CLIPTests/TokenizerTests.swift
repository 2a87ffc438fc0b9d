import Foundation
import Testing
@testable import CLIP

@Suite struct TokenizerTests {
    /// The default (fast) pipeline from vocab.json + merges.txt.
    static let hf = try! CLIPTokenizer(vocabularyURL: Fixtures.url("vocab.json"), mergesURL: Fixtures.url("merges.txt"))
    /// transformers 4.57's slow tokenizer without ftfy (the model fixtures' ids).
    static let slow = hf.withCleaning(.transformersSlow)

    typealias Case = (text: String, ids: [Int], idsV5: [Int]?)

    /// tokenizer_cases.json: the slow tokenizer's ids.
    static func slowCases() throws -> [Case] {
        let list = try Fixtures.json("tokenizer_cases.json") as! [[String: Any]]
        return list.map { ($0["text"] as! String, ($0["ids"] as! [NSNumber]).map(\.intValue), nil) }
    }

    /// tokenizer_fast_cases.json.gz: tokenizers' ids with the hub configuration, and
    /// transformers 5's where its tokenizer.json differs.
    static func fastCases() throws -> [Case] {
        let file = try Fixtures.json("tokenizer_fast_cases.json.gz") as! [String: Any]
        return (file["cases"] as! [[String: Any]]).map {
            ($0["text"] as! String, ($0["ids"] as! [NSNumber]).map(\.intValue), ($0["ids_v5"] as? [NSNumber])?.map(\.intValue))
        }
    }

    static func expectAllEqual(_ tokenizer: CLIPTokenizer, _ cases: [Case], v5: Bool = false) {
        var mismatches: [String] = []
        for c in cases {
            let want = v5 ? (c.idsV5 ?? c.ids) : c.ids
            let ids = tokenizer.encode(c.text)
            if ids != want {
                mismatches.append("\(c.text.unicodeScalars.map { String($0.value, radix: 16) }): got \(ids) expected \(want)".prefix(600).description)
            }
        }
        print("tokenizer: \(cases.count) cases, \(mismatches.count) differ")
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(cases.count) differ; first: \(mismatches.prefix(3).joined(separator: "\n"))")
    }

    @Test func slowCleaningMatchesTransformers4SlowTokenizer() throws {
        let cases = try Self.slowCases()
        #expect(cases.count > 2000)
        Self.expectAllEqual(Self.slow, cases)
    }

    @Test func defaultMatchesTokenizersWithTheHubConfiguration() throws {
        let cases = try Self.fastCases()
        #expect(cases.count > 4500)
        Self.expectAllEqual(Self.hf, cases)
    }

    @Test func tokenizerJSONOfTransformers5() throws {
        let tok = try CLIPTokenizer(tokenizerJSONURL: Fixtures.url("tokenizer.json"))
        #expect(tok.addedTokens.tokens.allSatisfy { !$0.normalized })
        #expect(tok.vocabulary == Self.hf.vocabulary)
        let cases = try Self.fastCases()
        #expect(cases.contains { $0.idsV5 != nil }, "the fixture should show where the two configurations differ")
        Self.expectAllEqual(tok, cases, v5: true)
    }

    /// tokenizer.json with the hub checkpoint's normalizer, pre-tokenizer and added
    /// tokens, read from a model directory (which prefers it over vocab.json).
    @Test func hubTokenizerJSONFromADirectory() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var json = try Fixtures.json("tokenizer.json") as! [String: Any]
        for (k, v) in try Fixtures.json("tokenizer_hub_parts.json") as! [String: Any] { json[k] = v }
        try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("tokenizer.json"))
        let tok = try CLIPTokenizer(directory: dir)
        #expect(tok.addedTokens.tokens.allSatisfy { $0.normalized })
        Self.expectAllEqual(tok, try Self.fastCases())
    }

    @Test func unsupportedTokenizerJSONIsRefused() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var json = try Fixtures.json("tokenizer.json") as! [String: Any]
        json["normalizer"] = ["type": "Lowercase"]
        let url = dir.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        #expect(throws: CLIPLoadError.self) { try CLIPTokenizer(tokenizerJSONURL: url) }
    }

    @Test func fixtureRecordsTheVersionsThatDecideIt() throws {
        let versions = (try Fixtures.json("tokenizer_fast_cases.json.gz") as! [String: Any])["versions"] as! [String: String]
        for key in ["python", "unicodedata", "transformers", "tokenizers"] { #expect(versions[key] != nil, "\(key)") }
    }

    /// open_clip's SimpleTokenizer (ids without start/end, no truncation). Texts
    /// where ftfy's badness heuristic or its other repairs decide are counted, not
    /// compared (the fixture marks them: ftfy.fix_text differs there from the
    /// implemented part, recomputed in Python by generate_text.py).
    @Test func openAICleaningMatchesOpenCLIP() throws {
        let file = try Fixtures.json("tokenizer_openai_cases.json.gz") as! [String: Any]
        let cases = file["cases"] as! [[String: Any]]
        #expect(cases.count > 4500)
        let tok = Self.hf.withCleaning(.openai)
        var mismatches: [String] = []
        var heuristic = 0
        for c in cases {
            let text = c["text"] as! String, want = (c["ids"] as! [NSNumber]).map(\.intValue)
            if c["ftfy_heuristic"] != nil { heuristic += 1; continue }
            let got = tok.encodeWithoutSpecialTokens(text)
            if got != want {
                mismatches.append("\(text.unicodeScalars.map { String($0.value, radix: 16) }): got \(got) expected \(want)".prefix(600).description)
            }
        }
        print("openai cleaning: \(cases.count - heuristic) of \(cases.count) compared (\(heuristic) decided by ftfy's heuristics), \(mismatches.count) differ")
        #expect(heuristic < 40)
        #expect(mismatches.isEmpty, "\(mismatches.count) differ; first: \(mismatches.prefix(3).joined(separator: "\n"))")
    }

    @Test func openAICleaningExamples() {
        let tok = Self.hf.withCleaning(.openai)
        // HTML unescaped (twice), mojibake repaired, quotes straightened, widths normalised.
        #expect(tok.encode("fish &amp;amp; chips") == tok.encode("fish & chips"))
        #expect(tok.encode("cafÃ©") == tok.encode("café"))
        // A lost byte (U+FFFD from decoding) inside mojibake: replace_lossy_sequences.
        #expect(tok.encode("seÃ±orâ€™s â€œcafÃ©â€\u{FFFD}") == tok.encode("señor's \"café\u{FFFD}"))
        #expect(tok.encode("“quoted” ﬁle") == tok.encode("\"quoted\" file"))
        #expect(tok.encode("ＬＯＵＤ　ＮＯＩＳＥ") == tok.encode("loud noise"))
        #expect(tok.encode("ΟΔΥΣΣΕΥΣ") == tok.encode("οδυσσευς"))  // Python's final sigma
        let special = tok.encode("a <|ENDOFTEXT|> b")  // the regex matches special tokens in any case
        #expect(special.count == 5 && special[2] == 49407)
        #expect(Self.hf.encode("fish &amp; chips") != tok.encode("fish &amp; chips"))
    }

    /// NFC with the references' Unicode versions: a mark newer than the tables is a
    /// starter there (not reordered); marks Foundation leaves unsorted are sorted.
    @Test func nfcFollowsTheReferencesUnicodeVersion() {
        func nfc(_ s: String, _ v: (major: Int, minor: Int)) -> [UInt32] {
            VersionedNFC.normalize(Array(s.unicodeScalars), unicode: v).map(\.value)
        }
        // U+1AC7 (Unicode 14, class 230) before U+0316 (class 220).
        #expect(nfc("a\u{1AC7}\u{316}", VersionedNFC.tokenizers) == [0x61, 0x1AC7, 0x316])
        #expect(nfc("a\u{1AC7}\u{316}", VersionedNFC.python311) == [0x61, 0x316, 0x1AC7])
        // Tibetan U+0F73 = U+0F71 U+0F72 (classes 129, 130): sorted after decomposition.
        #expect(nfc("\u{F40}\u{F72}\u{F73}", VersionedNFC.tokenizers) == [0xF40, 0xF71, 0xF72, 0xF72])
        #expect(nfc("e\u{301}", VersionedNFC.tokenizers) == [0xE9])
        #expect(nfc("plain", VersionedNFC.tokenizers) == Array("plain".unicodeScalars.map(\.value)))
    }

    /// Informational only (performance is measured in benchmarks, not asserted):
    /// the three pipelines' time on the same strings, in this (debug) build.
    @Test func printRelativeSpeed() throws {
        let texts = try Self.fastCases().map(\.text)
        for cleaning in TextCleaning.allCases {
            let tok = Self.hf.withCleaning(cleaning)
            let start = Date()
            var count = 0
            for t in texts { count += tok.encode(t).count }
            let s = Date().timeIntervalSince(start)
            print("tokenizer speed (debug build): \(cleaning.rawValue): \(texts.count) texts, \(count) ids in \(String(format: "%.3f", s)) s")
        }
    }

    @Test func openAIVocabularyGivesTheSameIds() throws {
        let openAI = try CLIPTokenizer(openAIVocabularyURL: Fixtures.url("bpe_simple_vocab_16e6.txt.gz"))
        #expect(openAI.vocabulary.count == 49408)
        #expect(openAI.vocabulary == Self.hf.vocabulary)
        for c in try Self.fastCases().prefix(400) {
            #expect(openAI.encode(c.text) == c.ids)
        }
    }

    @Test func specialTokensAndPadding() {
        #expect(Self.hf.startTokenId == 49406)
        #expect(Self.hf.endTokenId == 49407)
        #expect(Self.hf.encode("") == [49406, 49407])
        let padded = Self.hf.encodePadded("a photo of a cat")
        #expect(padded.count == 77)
        #expect(padded.prefix(7) == [49406, 320, 1125, 539, 320, 2368, 49407])
        #expect(padded.dropFirst(7).allSatisfy { $0 == 49407 })
    }

    @Test func truncationKeepsTheEndToken() {
        let ids = Self.hf.encode(String(repeating: "word ", count: 200))
        #expect(ids.count == 77)
        #expect(ids.first == 49406 && ids.last == 49407)
    }

    @Test func corruptGzipVocabularyIsReported() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Data(contentsOf: Fixtures.url("bpe_simple_vocab_16e6.txt.gz"))
        let truncated = dir.appendingPathComponent("bpe.txt.gz")
        try data.prefix(data.count / 2).write(to: truncated)
        #expect(throws: CLIPLoadError.self) { try CLIPTokenizer(openAIVocabularyURL: truncated) }
    }
}
