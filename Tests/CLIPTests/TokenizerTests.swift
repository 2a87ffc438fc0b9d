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

    /// tokenizer_fast_cases.json: tokenizers' ids with the hub configuration, and
    /// transformers 5's where its tokenizer.json differs.
    static func fastCases() throws -> [Case] {
        let file = try Fixtures.json("tokenizer_fast_cases.json") as! [String: Any]
        return (file["cases"] as! [[String: Any]]).map {
            ($0["text"] as! String, ($0["ids"] as! [NSNumber]).map(\.intValue), ($0["ids_v5"] as? [NSNumber])?.map(\.intValue))
        }
    }

    /// Texts whose NFC differs between tokenizers and Swift, so their ids are not
    /// compared (docs/CLIP.md, "Unicode versions"): two or more adjacent combining
    /// marks (in Swift's tables) of which one is newer than Unicode 10 (tokenizers'
    /// normalisation tables do not know its combining class and leave it in place),
    /// or a decomposable Tibetan vowel sign (Swift leaves the decomposed marks unsorted).
    static func nfcDiffers(_ text: String) -> Bool {
        let s = Array(text.unicodeScalars)
        for i in s.indices.dropLast() {
            let a = s[i].properties, b = s[i + 1].properties
            guard a.canonicalCombiningClass.rawValue != 0 || [0x0F73, 0x0F75, 0x0F81].contains(s[i].value),
                  b.canonicalCombiningClass.rawValue != 0 || [0x0F73, 0x0F75, 0x0F81].contains(s[i + 1].value) else { continue }
            func newer(_ p: Unicode.Scalar.Properties) -> Bool { (p.age.map { $0.major > 10 } ?? true) }
            if newer(a) || newer(b) || [s[i], s[i + 1]].contains(where: { [0x0F73, 0x0F75, 0x0F81].contains($0.value) }) { return true }
        }
        return false
    }

    static func expectAllEqual(_ tokenizer: CLIPTokenizer, _ cases: [Case], v5: Bool = false, skipNFCDifferences: Bool = true) {
        var mismatches: [String] = []
        var skipped = 0
        for c in cases {
            if skipNFCDifferences && nfcDiffers(c.text) { skipped += 1; continue }
            let want = v5 ? (c.idsV5 ?? c.ids) : c.ids
            let ids = tokenizer.encode(c.text)
            if ids != want {
                mismatches.append("\(c.text.unicodeScalars.map { String($0.value, radix: 16) }): got \(ids) expected \(want)".prefix(600).description)
            }
        }
        print("tokenizer: \(cases.count - skipped) of \(cases.count) cases compared (\(skipped) with NFC differences skipped), \(mismatches.count) differ")
        #expect(skipped < 40)
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(cases.count) differ; first: \(mismatches.prefix(3).joined(separator: "\n"))")
    }

    @Test func slowCleaningMatchesTransformers4SlowTokenizer() throws {
        let cases = try Self.slowCases()
        #expect(cases.count > 2000)
        Self.expectAllEqual(Self.slow, cases, skipNFCDifferences: false)
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
        let versions = (try Fixtures.json("tokenizer_fast_cases.json") as! [String: Any])["versions"] as! [String: String]
        for key in ["python", "unicodedata", "transformers", "tokenizers"] { #expect(versions[key] != nil, "\(key)") }
    }

    /// open_clip's SimpleTokenizer (ids without start/end, no truncation). Texts
    /// where ftfy's badness heuristic or its other repairs decide are counted, not
    /// compared (the fixture marks them: ftfy.fix_text differs there from the
    /// implemented part, recomputed in Python by generate_text.py).
    @Test func openAICleaningMatchesOpenCLIP() throws {
        let file = try Fixtures.json("tokenizer_openai_cases.json") as! [String: Any]
        let cases = file["cases"] as! [[String: Any]]
        #expect(cases.count > 4500)
        let tok = Self.hf.withCleaning(.openai)
        var mismatches: [String] = []
        var heuristic = 0, nfc = 0
        for c in cases {
            let text = c["text"] as! String, want = (c["ids"] as! [NSNumber]).map(\.intValue)
            if c["ftfy_heuristic"] != nil { heuristic += 1; continue }
            if Self.nfcDiffers(text) { nfc += 1; continue }
            let got = tok.encodeWithoutSpecialTokens(text)
            if got != want {
                mismatches.append("\(text.unicodeScalars.map { String($0.value, radix: 16) }): got \(got) expected \(want)".prefix(600).description)
            }
        }
        print("openai cleaning: \(cases.count - heuristic - nfc) of \(cases.count) compared (\(heuristic) decided by ftfy's heuristics, \(nfc) NFC), \(mismatches.count) differ")
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
