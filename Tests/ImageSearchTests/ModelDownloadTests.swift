import Foundation
import Testing
@testable import ImageSearch

/// The parts of the downloader that need no server; the HTTP behaviour is
/// tested end to end in Tests/imgsearch/test_model_download.py.
@Suite struct ModelDownloadTests {
    @Test func defaultDirectoryFollowsXDG() {
        #expect(ModelLocation.defaultDirectory(environment: ["XDG_DATA_HOME": "/data", "HOME": "/home/u"])
            == "/data/imgsearch/models/openai--clip-vit-base-patch32")
        // Unset, empty or relative XDG_DATA_HOME: ~/.local/share.
        for xdg in [nil, "", "relative/dir"] as [String?] {
            var env = ["HOME": "/home/u"]
            env["XDG_DATA_HOME"] = xdg
            #expect(ModelLocation.defaultDirectory(repository: "a/b", environment: env) == "/home/u/.local/share/imgsearch/models/a--b")
        }
    }

    @Test func resolveOrder() throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("xdg-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        var env = ["XDG_DATA_HOME": data]
        #expect(ModelLocation.resolve(explicit: nil, environment: env) == nil)
        let dir = ModelLocation.defaultDirectory(environment: env)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect(ModelLocation.resolve(explicit: nil, environment: env) == nil, "no config.json yet")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        #expect(ModelLocation.resolve(explicit: nil, environment: env) == dir)
        env["IMGSEARCH_CLIP_MODEL"] = "/from/env"
        #expect(ModelLocation.resolve(explicit: nil, environment: env) == "/from/env")
        #expect(ModelLocation.resolve(explicit: "/explicit", environment: env) == "/explicit")
    }

    @Test func checksumFromHeaders() {
        let sha256 = String(repeating: "ab", count: 32), sha1 = String(repeating: "c", count: 40)
        #expect(ModelChecksum.parse(linkedETag: "\"\(sha256.uppercased())\"", eTag: "\"\(sha1)\"") == .sha256(sha256))
        #expect(ModelChecksum.parse(linkedETag: nil, eTag: "W/\"\(sha1)\"") == .gitBlobSHA1(sha1))
        #expect(ModelChecksum.parse(linkedETag: nil, eTag: "\"\(sha256)\"") == .sha256(sha256))
        #expect(ModelChecksum.parse(linkedETag: nil, eTag: "\"d41d8cd98f00b204e9800998ecf8427e\"") == .none)
        #expect(ModelChecksum.parse(linkedETag: "\"xyz\"", eTag: "\"\(sha1)\"") == .none)
        #expect(ModelChecksum.parse(linkedETag: nil, eTag: nil) == .none)
    }

    @Test func urlsAndNames() {
        let d = ModelDownload(repository: "openai/clip-vit-base-patch32", revision: "refs/pr/1",
                              endpoint: "http://127.0.0.1:8080/", destination: "/tmp/x", environment: [:])
        #expect(d.resolveURL("model.safetensors")?.absoluteString
            == "http://127.0.0.1:8080/openai/clip-vit-base-patch32/resolve/refs%2Fpr%2F1/model.safetensors")
        #expect(ModelDownload(environment: ["HF_ENDPOINT": "https://mirror.example"]).endpoint == "https://mirror.example")
        #expect(ModelDownload(environment: [:]).endpoint == "https://huggingface.co")
        #expect(ModelDownload(environment: ["HF_TOKEN": "t"]).token == "t")
        for good in ["openai/clip-vit-base-patch32", "gpt2", "a_b/c.d-e"] { #expect(ModelDownload.isValidRepository(good), "\(good)") }
        for bad in ["", "/x", "a/", "a/b/c", "../x", "a/..", "a b/c", "a/b?c"] { #expect(!ModelDownload.isValidRepository(bad), "\(bad)") }
        #expect(ModelDownload.contentRangeStart("bytes 600000-1705723/1705724") == 600000)
        #expect(ModelDownload.contentRangeStart("bytes */10") == nil)
        #expect(ModelDownload.bytes(999) == "999 B" && ModelDownload.bytes(605_000_000) == "605.0 MB")
        #expect(URL(string: "https://cdn.example/a/b?X-Amz-Signature=s#f")!.forDisplay == "https://cdn.example/a/b")
    }

    @Test func gitBlobID() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("blob-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // `printf 'hello\n' | git hash-object --stdin`, and the empty blob.
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try SHA1.gitBlobID(ofFileAt: path) == "ce013625030ba8dba906f756967f9e9ca394464a")
        try Data().write(to: URL(fileURLWithPath: path))
        #expect(try SHA1.gitBlobID(ofFileAt: path) == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        // FIPS 180 SHA-1 examples.
        var sha = SHA1()
        sha.update(Array("abc".utf8))
        #expect(SHA256.hex(sha.finalize()) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        var long = SHA1()
        long.update(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        #expect(SHA256.hex(long.finalize()) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
    }
}
