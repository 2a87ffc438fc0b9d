import Testing
@testable import VectorCore

@Suite struct VectorTextParsing {
    @Test(arguments: [
        ("[1,2,3]", [1, 2, 3] as [Float]),
        ("[1, 2.5, -3e-2]", [1, 2.5, -0.03]),
        ("{1,2,3}", [1, 2, 3]),
        ("  [ 1 ,\t2\n, 3 ]  ", [1, 2, 3]),
        ("[+1.5e+2, .5, 5., -0]", [150, 0.5, 5, -0.0]),
        ("[1E3,2e-1]", [1000, 0.2]),
        ("[3.4028235e38]", [Float.greatestFiniteMagnitude]),
        ("[1.4e-45]", [Float.leastNonzeroMagnitude]),
        ("[0.000000000000000000000000000000000000000000000000001e51]", [1]),
    ])
    func acceptsValidLiterals(text: String, expected: [Float]) throws {
        let parsed = try VectorText.parse(text)
        #expect(parsed.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    /// Every rejected literal, with the error kind (SQLSTATE) and a phrase
    /// the detail must contain, so messages stay specific.
    @Test(arguments: [
        ("", VectorInputError.Kind.syntax, "must not be empty"),
        ("   ", .syntax, "must not be empty"),
        ("[]", .syntax, "at least 1 dimension"),
        ("[ ]", .syntax, "at least 1 dimension"),
        ("1,2,3", .syntax, "must start with"),
        ("(1,2)", .syntax, "must start with"),
        ("[1,2,3", .syntax, "Missing closing \"]\""),
        ("[1,2,3}", .syntax, "Expected \",\" or \"]\""),
        ("{1,2]", .syntax, "Expected \",\" or \"}\""),
        ("[1,2]x", .syntax, "after the closing bracket"),
        ("[1,2] [3]", .syntax, "after the closing bracket"),
        ("[1 2]", .syntax, "Expected \",\""),
        ("[1,,2]", .syntax, "Missing number before \",\""),
        ("[1,]", .syntax, "Missing number before \"]\""),
        ("[,1]", .syntax, "Missing number before \",\""),
        ("[NaN]", .syntax, "NaN is not allowed"),
        ("[1,nan]", .syntax, "NaN is not allowed"),
        ("[Infinity]", .syntax, "Infinite values are not allowed"),
        ("[-inf]", .syntax, "Infinite values are not allowed"),
        ("[[1,2]]", .syntax, "Nested brackets"),
        ("[1,[2]]", .syntax, "Nested brackets"),
        ("[1e]", .syntax, "Exponent without digits"),
        ("[1e+]", .syntax, "Exponent without digits"),
        ("[-]", .syntax, "Expected a number"),
        ("[.]", .syntax, "Expected a number"),
        ("[0x10]", .syntax, "Expected \",\""),
        ("[1\u{0}]", .syntax, "byte 0x0"),
        ("[1,é]", .syntax, "byte 0xC3"),
        ("[1e39]", .outOfRange, "must be finite"),
        ("[-3.5e38]", .outOfRange, "must be finite"),
        ("[1e-46]", .outOfRange, "must be finite"),
        ("[1e999999999999999999]", .outOfRange, "must be finite"),
    ])
    func rejectsInvalidLiterals(text: String, kind: VectorInputError.Kind, detail: String) {
        #expect {
            try VectorText.parse(text)
        } throws: { error in
            guard let error = error as? VectorInputError else { return false }
            return error.kind == kind && error.detail.contains(detail) && error.message.contains("\"")
        }
    }

    @Test func messageQuotesTheInputAndTruncatesLongOnes() {
        let long = "[" + String(repeating: "1,", count: 100) + "x]"
        do {
            _ = try VectorText.parse(long)
            Issue.record("expected an error")
        } catch {
            #expect(error.message.hasPrefix("invalid input syntax for type vector: \"[1,1,"))
            #expect(error.message.hasSuffix("...\""))
            #expect(error.message.utf8.count < 150)
        }
    }

    @Test func dimensionLimit() throws {
        let atLimit = "[" + Array(repeating: "1", count: VectorLimits.maxDimensions).joined(separator: ",") + "]"
        #expect(try VectorText.parse(atLimit).count == 65535)
        let overLimit = "[" + Array(repeating: "1", count: VectorLimits.maxDimensions + 1).joined(separator: ",") + "]"
        #expect(throws: VectorInputError.self) { try VectorText.parse(overLimit) }
        do { _ = try VectorText.parse(overLimit) } catch { #expect(error.kind == .outOfRange) }
    }

    /// The parser faces untrusted input: random bytes and mutations of valid
    /// literals must produce a value or an error, never a trap.
    @Test func survivesRandomAndMutatedInput() {
        var rng = SplitMix64(seed: 42)
        let alphabet = Array("[]{},.+-eE0123456789 \tnaNinfINF\u{0}x".utf8) + [0xC3, 0xFF, 0x80]
        for _ in 0..<20_000 {
            let length = Int(rng.next() % 40)
            let bytes = (0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            let text = String(decoding: bytes, as: UTF8.self)
            if let parsed = try? VectorText.parse(text) {
                #expect(!parsed.isEmpty && parsed.allSatisfy { $0.isFinite })
            }
        }
        let valid = Array("[1.5, -2e3, 4]".utf8)
        for _ in 0..<20_000 {
            var bytes = valid
            let position = Int(rng.next() % UInt64(bytes.count))
            bytes[position] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
            if let parsed = try? VectorText.parse(String(decoding: bytes, as: UTF8.self)) {
                #expect(parsed.allSatisfy { $0.isFinite })
            }
        }
    }
}

@Suite struct FloatTextFormatting {
    /// Expected strings are what PostgreSQL 15 prints for the same float4
    /// values (`SELECT x::float4::text`), captured from a real server.
    @Test(arguments: [
        (Float(1), "1"), (2.5, "2.5"), (-0.03, "-0.03"), (1e-5, "1e-05"), (0.0001, "0.0001"),
        (0.001, "0.001"), (123456, "123456"), (1234567, "1.234567e+06"), (12345678, "1.2345678e+07"),
        (123456789, "1.2345679e+08"), (1e10, "1e+10"), (3.4028235e38, "3.4028235e+38"),
        (1.17549435e-38, "1.1754944e-38"), (1e-45, "1e-45"), (0.1, "0.1"), (100, "100"),
        (1_000_000, "1e+06"), (10_000_000, "1e+07"), (-0.0, "-0"), (0, "0"), (1.5e-7, "1.5e-07"),
        (33_554_432, "3.3554432e+07"), (16_777_216, "1.6777216e+07"), (100000, "100000"),
        (0.00012345, "0.00012345"), (-999999, "-999999"),
    ])
    func matchesPostgreSQLFloat4Out(value: Float, expected: String) {
        #expect(FloatText.string(value) == expected)
    }

    /// Shortest form means it reads back to the very same bits.
    @Test func roundTripsExactly() throws {
        var rng = SplitMix64(seed: 7)
        var values: [Float] = [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude,
                               .leastNormalMagnitude, 1, -1, 0.1, 1.0 / 3.0]
        while values.count < 50_000 {
            let candidate = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
            if candidate.isFinite { values.append(candidate) }
        }
        for chunk in stride(from: 0, to: values.count, by: 1000) {
            let slice = Array(values[chunk..<min(chunk + 1000, values.count)])
            let text = slice.withUnsafeBufferPointer { VectorFormat.string($0) }
            let parsed = try VectorText.parse(text)
            #expect(parsed.map(\.bitPattern) == slice.map(\.bitPattern))
            #expect(text.utf8.count < VectorFormat.capacity(forCount: slice.count))
        }
    }

    /// Nine significant digits, a sign and a two-digit exponent: 15 bytes
    /// an element (the capacity once counted 14, and a vector of three such
    /// elements overran it).
    @Test func worstCaseLengthFitsTheCapacity() {
        for value: Float in [-1.1754942e-38, -1.00459735e-16, -0.000100459736] {
            let worst: [Float] = Array(repeating: value, count: 10)
            let text = worst.withUnsafeBufferPointer { VectorFormat.string($0) }
            #expect(text.utf8.count + 1 <= VectorFormat.capacity(forCount: worst.count))
        }
        #expect(FloatText.string(-1.00459735e-16) == "-1.00459735e-16")
    }
}

/// Small deterministic generator so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
