/// Text output of float4 values, identical to PostgreSQL's `float4out` with
/// the default `extra_float_digits = 1`: the shortest decimal that reads back
/// as the same float, in fixed notation when the decimal exponent is in
/// [-4, 6) and as `d.ddde±XX` otherwise (printf's `%g` thresholds).
///
/// Swift's `description` already finds the shortest round-tripping digits;
/// this type only re-lays them out the way PostgreSQL prints them.
public enum FloatText {
    /// Appends the text of `value` (finite) to `output`.
    public static func append(_ value: Float, to output: inout [UInt8]) {
        let (negative, digits, exponent) = decompose(value)
        if negative { output.append(UInt8(ascii: "-")) }
        if digits.isEmpty {
            output.append(UInt8(ascii: "0"))
            return
        }
        if exponent >= -4 && exponent < 6 {
            appendFixed(digits, exponent, to: &output)
        } else {
            appendScientific(digits, exponent, to: &output)
        }
    }

    /// The text of one value, for tests and tools.
    public static func string(_ value: Float) -> String {
        var bytes: [UInt8] = []
        append(value, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Splits Swift's shortest representation into sign, significant digits
    /// (no leading or trailing zeros; empty for zero) and the decimal
    /// exponent of the first digit: value = 0.d1d2... * 10^(exponent + 1).
    static func decompose(_ value: Float) -> (negative: Bool, digits: [UInt8], exponent: Int) {
        let text = Array(value.description.utf8)  // e.g. "-1.25", "1e-05", "3.4028235e+38"
        var index = 0
        let negative = text.first == UInt8(ascii: "-")
        if negative { index = 1 }
        var digits: [UInt8] = []
        var pointOffset: Int? = nil  // digits before the decimal point
        var exponentPart = 0
        while index < text.count {
            let c = text[index]
            if c == UInt8(ascii: ".") {
                pointOffset = digits.count
            } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                // "e-05", "e+38": read the digits here (Int(String) would be
                // an optional to unwrap, on a path every vector output takes).
                var magnitude = 0
                for d in text[(index + 1)...] where d >= UInt8(ascii: "0") && d <= UInt8(ascii: "9") {
                    magnitude = min(magnitude &* 10 &+ Int(d - UInt8(ascii: "0")), 1 << 20)
                }
                exponentPart = index + 1 < text.count && text[index + 1] == UInt8(ascii: "-") ? -magnitude : magnitude
                break
            } else {
                digits.append(c)
            }
            index += 1
        }
        var exponent = (pointOffset ?? digits.count) - 1 + exponentPart
        // Drop leading zeros ("0.03" -> "3", moving the exponent) and trailing zeros.
        var leading = 0
        while leading < digits.count && digits[leading] == UInt8(ascii: "0") { leading += 1 }
        exponent -= leading
        digits.removeFirst(leading)
        while let last = digits.last, last == UInt8(ascii: "0") { digits.removeLast() }
        return (negative, digits, exponent)
    }

    static func appendFixed(_ digits: [UInt8], _ exponent: Int, to output: inout [UInt8]) {
        if exponent < 0 {
            output.append(UInt8(ascii: "0"))
            output.append(UInt8(ascii: "."))
            for _ in 0..<(-exponent - 1) { output.append(UInt8(ascii: "0")) }
            output.append(contentsOf: digits)
            return
        }
        let integerDigits = exponent + 1
        for i in 0..<max(integerDigits, digits.count) {
            if i == integerDigits { output.append(UInt8(ascii: ".")) }
            output.append(i < digits.count ? digits[i] : UInt8(ascii: "0"))
        }
    }

    static func appendScientific(_ digits: [UInt8], _ exponent: Int, to output: inout [UInt8]) {
        output.append(digits[0])
        if digits.count > 1 {
            output.append(UInt8(ascii: "."))
            output.append(contentsOf: digits[1...])
        }
        output.append(UInt8(ascii: "e"))
        output.append(exponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        let magnitude = abs(exponent)
        if magnitude < 10 { output.append(UInt8(ascii: "0")) }
        output.append(contentsOf: String(magnitude).utf8)
    }
}

/// Text output of whole vectors: `[1,2.5,-0.03]`.
public enum VectorFormat {
    /// The longest text one element can produce, plus the separating comma:
    /// a float4 needs up to 9 significant digits to read back exactly, so
    /// "-1.00459735e-16" (a sign, 9 digits, a point, a two-digit exponent)
    /// is 15 bytes; fixed notation is shorter ("-0.000100459736" at most).
    public static let maxBytesPerElement = 16

    /// Upper bound of the text length of an `count`-element vector, brackets
    /// and the terminating NUL included.
    public static func capacity(forCount count: Int) -> Int {
        count * maxBytesPerElement + 3
    }

    /// The text of a vector.
    public static func string(_ elements: UnsafeBufferPointer<Float>) -> String {
        String(decoding: bytes(elements), as: UTF8.self)
    }

    /// The text of a vector as bytes (no terminating NUL).
    public static func bytes(_ elements: UnsafeBufferPointer<Float>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(elements.count * 8 + 2)
        output.append(UInt8(ascii: "["))
        for (i, x) in elements.enumerated() {
            if i > 0 { output.append(UInt8(ascii: ",")) }
            FloatText.append(x, to: &output)
        }
        output.append(UInt8(ascii: "]"))
        return output
    }
}
