import Foundation
import Testing
@testable import CLIP

@Suite struct TokenizerTests {
    static let hf = try! CLIPTokenizer(vocabularyURL: Fixtures.url("vocab.json"), mergesURL: Fixtures.url("merges.txt"))

    static func cases() throws -> [(text: String, ids: [Int])] {
        let list = try Fixtures.json("tokenizer_cases.json") as! [[String: Any]]
        return list.map { ($0["text"] as! String, ($0["ids"] as! [NSNumber]).map(\.intValue)) }
    }

    @Test func matchesTransformersOnAllCases() throws {
        let cases = try Self.cases()
        #expect(cases.count > 2000)
        var mismatches: [String] = []
        for c in cases {
            let ids = Self.hf.encode(c.text)
            if ids != c.ids {
                mismatches.append("\(c.text.debugDescription): got \(ids) expected \(c.ids)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(cases.count) differ; first: \(mismatches.prefix(5).joined(separator: "\n"))")
    }

    @Test func openAIVocabularyGivesTheSameIds() throws {
        let openAI = try CLIPTokenizer(openAIVocabularyURL: Fixtures.url("bpe_simple_vocab_16e6.txt.gz"))
        #expect(openAI.vocabulary.count == 49408)
        #expect(openAI.vocabulary == Self.hf.vocabulary)
        for c in try Self.cases().prefix(400) {
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
