import Testing
@testable import HNSW

/// pgvecto.rs's `options` strings as its users wrote them.
@Suite struct IndexOptionsParsing {
    func parsed(_ text: String) throws -> IndexOptionsText { try IndexOptionsText.parse(text) }

    func message(_ text: String) -> String? {
        do {
            _ = try IndexOptionsText.parse(text)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func tablesKeysAndLineEnds() throws {
        #expect(try parsed("[indexing.hnsw]\nm = 16\nef_construction = 300\n")
                == IndexOptionsText(m: 16, efConstruction: 300, buildThreads: nil))
        // A dump restored through tools that doubled the carriage return.
        #expect(try parsed("[indexing.hnsw]\r\r\nm = 12\r\nef_construction = 40\r\n").m == 12)
        #expect(try parsed("[indexing.hnsw]\rm = 12\r").m == 12)
        #expect(try parsed("indexing.hnsw.m = 10  # a comment\n").m == 10)
        #expect(try parsed("[indexing]\nhnsw.m = 10\n").m == 10)
        #expect(try parsed("[\"indexing\".'hnsw']\n\"m\" = 9\n").m == 9)
        #expect(try parsed("[indexing]\nhnsw = { m = 10, \"ef_construction\" = 1_000 }\n")
                == IndexOptionsText(m: 10, efConstruction: 1000, buildThreads: nil))
        #expect(try parsed("indexing = { hnsw = { m = 8 } }").m == 8)
        #expect(try parsed("[indexing.hnsw]\n[indexing]\n") == IndexOptionsText())
    }

    @Test func optimizingTable() throws {
        let options = try parsed("""
            [indexing.hnsw]
            m = 16
            [optimizing]
            optimizing_threads = 4
            sealing_secs = 60
            sealing_size = 1
            delete_threshold = 0.2
            """)
        #expect(options.buildThreads == 4)
        #expect(try parsed("optimizing.optimizing_threads = 16").buildThreads == 16)
    }

    @Test func rejectedWithTheirReason() {
        #expect(message("[indexing.hnsw]\nm = sixteen") == "index option m must be an integer, got \"sixteen\"")
        #expect(message("[indexing.hnsw]\nm = 1") == "index option m = 1 is out of range")
        #expect(message("[indexing.hnsw]\nm = 8\nm = 9") == "index option m is given twice")
        #expect(message("[indexing.hnsw]\n[indexing.hnsw]") == "index options table [indexing.hnsw] is given twice")
        #expect(message("[indexing.ivf]\nnlist = 100") == "unsupported index options table [indexing.ivf]")
        #expect(message("m = 16") == "index option \"m\" must be inside the [indexing.hnsw] or [optimizing] table")
        #expect(message("[optimizing]\noptimizing_threads = 0") == "index option optimizing_threads = 0 is out of range")
        #expect(message("[optimizing]\ndelete_threshold = 2.5")
                == "index option delete_threshold must be a number between 0 and 1, got 2.5")
        #expect(message("[optimizing]\nsealing = 1") == "unknown index option \"optimizing.sealing\"")
        #expect(message("[indexing.hnsw\nm = 16") == "invalid index options: unterminated table header \"[indexing.hnsw\"")
        #expect(message("[indexing.hnsw]\nm = 16 17") != nil)
        #expect(message("[indexing]\nhnsw = { m = 10") != nil)
        #expect(message("[indexing.hnsw]\n\"m = 16") != nil)
    }
}
