import Foundation

/// Builds the body of a `COPY ... FROM STDIN (FORMAT binary)`: the signature
/// header, one tuple per row (field count, then each field as a length and
/// the type's binary send format, network byte order), and the trailer.
///
/// Binary COPY skips the text parser on the server; for embeddings that is
/// most of the insert cost (512 floats printed and parsed per row).
public struct CopyBinaryWriter {
    public private(set) var bytes: [UInt8]

    /// PostgreSQL's epoch for timestamps, 2000-01-01 00:00:00, in
    /// microseconds since 1970-01-01.
    static let postgresEpochMicros: Int64 = 946_684_800_000_000

    public init() {
        bytes = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]
        append(UInt32(0))  // flags: no OIDs
        append(UInt32(0))  // header extension length
    }

    /// Starts a row of `fieldCount` fields.
    public mutating func beginRow(fieldCount: Int) {
        append(UInt16(fieldCount))
    }

    public mutating func appendNull() { append(UInt32(bitPattern: -1)) }

    public mutating func append(text: String) {
        let utf8 = Array(text.utf8)
        append(UInt32(utf8.count))
        bytes += utf8
    }

    /// A `bytea` value: its bytes as they are.
    public mutating func append(bytes value: [UInt8]) {
        append(UInt32(value.count))
        bytes += value
    }

    public mutating func append(int8 value: Int64) {
        append(UInt32(8))
        append(UInt64(bitPattern: value))
    }

    public mutating func append(int4 value: Int32) {
        append(UInt32(4))
        append(UInt32(bitPattern: value))
    }

    /// `timestamp` and `timestamptz` share one binary form: microseconds since
    /// 2000-01-01 (UTC for timestamptz, the wall clock for timestamp).
    public mutating func append(timestampMicrosSince1970 micros: Int64) {
        append(int8: micros - Self.postgresEpochMicros)
    }

    /// The `vector` type's binary form: dimension and a reserved word (uint16
    /// each), then the float4 values.
    public mutating func append(vector: [Float]) {
        append(UInt32(4 + 4 * vector.count))
        append(UInt16(vector.count))
        append(UInt16(0))
        for x in vector { append(x.bitPattern) }
    }

    /// Ends the data (the trailer is a field count of -1).
    public mutating func finish() {
        append(UInt16(bitPattern: -1))
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}
