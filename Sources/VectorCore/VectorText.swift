#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CVectorsShim

/// Limits of the `vector` type, read from the header the C shim also uses.
public enum VectorLimits {
    /// The largest number of elements a vector may have.
    public static let maxDimensions = Int(VECTORS_MAX_DIMENSIONS)
}

/// Why a vector literal was rejected. `kind` selects the SQLSTATE.
public struct VectorInputError: Error, Equatable, Sendable {
    public enum Kind: Sendable {
        /// Malformed text: SQLSTATE 22P02 (invalid_text_representation).
        case syntax
        /// Well-formed but not representable: SQLSTATE 22003 (numeric_value_out_of_range).
        case outOfRange
    }
    public var kind: Kind
    /// Primary message; quotes (a prefix of) the offending input.
    public var message: String
    /// What exactly is wrong, and where.
    public var detail: String
}

/// Parser for the text form of a vector: `[1, 2.5, -3e-2]` or `{1,2,3}`.
///
/// The grammar is deliberately strict, because the input comes from anyone
/// who can send SQL: one pair of matching brackets, numbers in the float4
/// grammar separated by single commas, whitespace anywhere between tokens,
/// nothing after the closing bracket. Every element must be finite and
/// representable as float4: `NaN`, `Infinity`, and values that overflow or
/// underflow to zero are errors rather than silently changed data.
public enum VectorText {
    /// How much of the input an error message quotes.
    static let quotedInputLimit = 64

    /// Parses `text` (UTF-8 bytes, not NUL-terminated) into its elements.
    public static func parse(_ text: UnsafeBufferPointer<UInt8>) throws(VectorInputError) -> [Float] {
        var parser = Parser(text: text)
        return try parser.parseVector()
    }

    /// Convenience for tests and tools.
    public static func parse(_ text: String) throws(VectorInputError) -> [Float] {
        var copy = text
        let result: Result<[Float], VectorInputError> = copy.withUTF8 { buffer in
            Result { () throws(VectorInputError) in try parse(buffer) }
        }
        return try result.get()
    }

    struct Parser {
        let text: UnsafeBufferPointer<UInt8>
        var position = 0

        init(text: UnsafeBufferPointer<UInt8>) { self.text = text }

        var current: UInt8? { position < text.count ? text[position] : nil }

        mutating func skipWhitespace() {
            while let c = current, isSpace(c) { position += 1 }
        }

        func isSpace(_ c: UInt8) -> Bool {
            // The same set PostgreSQL's scanner and isspace() in the C locale accept.
            c == 0x20 || (c >= 0x09 && c <= 0x0D)
        }

        func quotedInput() -> String {
            let bytes = text.prefix(VectorText.quotedInputLimit)
            var s = String(decoding: bytes, as: UTF8.self)
            if text.count > VectorText.quotedInputLimit { s += "..." }
            return "\"\(s)\""
        }

        func describeCharacter(at index: Int) -> String {
            guard index < text.count else { return "end of input" }
            let c = text[index]
            if c >= 0x21 && c < 0x7F { return "\"\(Character(Unicode.Scalar(c)))\" at position \(index + 1)" }
            return "byte 0x\(String(c, radix: 16, uppercase: true)) at position \(index + 1)"
        }

        func syntaxError(_ detail: String) -> VectorInputError {
            VectorInputError(
                kind: .syntax, message: "invalid input syntax for type vector: \(quotedInput())", detail: detail)
        }

        mutating func parseVector() throws(VectorInputError) -> [Float] {
            skipWhitespace()
            let open = current
            guard open == UInt8(ascii: "[") || open == UInt8(ascii: "{") else {
                throw syntaxError(
                    current == nil
                        ? "A vector literal must not be empty; write it as \"[1,2,3]\"."
                        : "A vector literal must start with \"[\" or \"{\", found \(describeCharacter(at: position)).")
            }
            let close = open == UInt8(ascii: "[") ? UInt8(ascii: "]") : UInt8(ascii: "}")
            position += 1
            skipWhitespace()
            if current == close {
                throw VectorInputError(
                    kind: .syntax, message: "invalid input syntax for type vector: \(quotedInput())",
                    detail: "A vector must have at least 1 dimension.")
            }
            var elements: [Float] = []
            while true {
                skipWhitespace()
                elements.append(try parseElement())
                if elements.count > VectorLimits.maxDimensions {
                    throw VectorInputError(
                        kind: .outOfRange,
                        message: "vector literal has more than \(VectorLimits.maxDimensions) dimensions: \(quotedInput())",
                        detail: "A vector can have at most \(VectorLimits.maxDimensions) dimensions.")
                }
                skipWhitespace()
                guard let c = current else {
                    throw syntaxError("Missing closing \"\(Character(Unicode.Scalar(close)))\".")
                }
                if c == close { break }
                if c != UInt8(ascii: ",") {
                    throw syntaxError("Expected \",\" or \"\(Character(Unicode.Scalar(close)))\", found \(describeCharacter(at: position)).")
                }
                position += 1
            }
            position += 1
            skipWhitespace()
            if position < text.count {
                throw syntaxError("Unexpected \(describeCharacter(at: position)) after the closing bracket.")
            }
            return elements
        }

        /// One number in the float4 grammar: [+-] digits [. digits] [e [+-] digits].
        mutating func parseElement() throws(VectorInputError) -> Float {
            let start = position
            var digitsSeen = false
            var nonZeroDigit = false
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            while let c = current, c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                digitsSeen = true
                if c != UInt8(ascii: "0") { nonZeroDigit = true }
                position += 1
            }
            if current == UInt8(ascii: ".") {
                position += 1
                while let c = current, c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                    digitsSeen = true
                    if c != UInt8(ascii: "0") { nonZeroDigit = true }
                    position += 1
                }
            }
            guard digitsSeen else { throw notANumber(from: start) }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                position += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
                var exponentDigits = false
                while let c = current, c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                    exponentDigits = true
                    position += 1
                }
                guard exponentDigits else {
                    throw syntaxError("Exponent without digits in element \(elementText(start)).")
                }
            }
            let value = convert(start..<position)
            guard value.isFinite, value != 0 || !nonZeroDigit else {
                throw VectorInputError(
                    kind: .outOfRange,
                    message: "\(elementText(start)) is out of range for type real in vector: \(quotedInput())",
                    detail: "Vector elements must be finite float4 values, magnitude between 1.4e-45 and 3.4028235e+38, or 0.")
            }
            return value
        }

        func elementText(_ start: Int) -> String {
            let bytes = UnsafeBufferPointer(rebasing: text[start..<min(position, start + VectorText.quotedInputLimit)])
            return "\"\(String(decoding: bytes, as: UTF8.self))\""
        }

        /// Names the common non-numbers (NaN, Infinity) specifically.
        mutating func notANumber(from start: Int) -> VectorInputError {
            var end = position
            while end < text.count, isWordByte(text[end]) { end += 1 }
            let word = String(decoding: UnsafeBufferPointer(rebasing: text[position..<end]), as: UTF8.self).lowercased()
            if word == "nan" {
                return syntaxError("NaN is not allowed in a vector (element at position \(start + 1)).")
            }
            if word == "inf" || word == "infinity" {
                return syntaxError("Infinite values are not allowed in a vector (element at position \(start + 1)).")
            }
            if start < text.count, text[start] == UInt8(ascii: "[") || text[start] == UInt8(ascii: "{") {
                return syntaxError("Nested brackets are not allowed: a vector is one-dimensional (position \(start + 1)).")
            }
            if start == position, let c = current, c == UInt8(ascii: ",") || c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                return syntaxError("Missing number before \(describeCharacter(at: position)).")
            }
            return syntaxError("Expected a number, found \(describeCharacter(at: position)).")
        }

        func isWordByte(_ c: UInt8) -> Bool {
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
        }

        /// Correctly rounded decimal to float conversion (strtof in the C
        /// locale, which the PostgreSQL backend always uses for LC_NUMERIC).
        func convert(_ range: Range<Int>) -> Float {
            withUnsafeTemporaryAllocation(of: CChar.self, capacity: range.count + 1) { buffer in
                for (offset, index) in range.enumerated() { buffer[offset] = CChar(bitPattern: text[index]) }
                buffer[range.count] = 0
                return strtof(buffer.baseAddress!, nil)
            }
        }
    }
}
