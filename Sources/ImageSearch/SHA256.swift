#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// SHA-256 (FIPS 180-4) in pure Swift, for content hashes of photos and for
/// checking downloaded model files (no CryptoKit or swift-crypto offline).
///
/// The compression function is unrolled with the message schedule in 16
/// rolling locals, so a block costs no memory traffic beyond its 64 input
/// bytes; `update` hashes whole blocks straight from the caller's buffer and
/// only copies a partial block at the ends.
///
///     var h = SHA256()
///     h.update(Array("abc".utf8))
///     SHA256.hex(h.finalize())    // "ba7816bf..."
///     try SHA256.hashFile(at: "/photos/cat.jpg")
public struct SHA256: Sendable {
    public static let digestByteCount = 32
    public static let blockByteCount = 64

    struct State: Sendable {
        var a: UInt32 = 0x6a09e667, b: UInt32 = 0xbb67ae85, c: UInt32 = 0x3c6ef372, d: UInt32 = 0xa54ff53a
        var e: UInt32 = 0x510e527f, f: UInt32 = 0x9b05688c, g: UInt32 = 0x1f83d9ab, h: UInt32 = 0x5be0cd19
    }

    private var state = State()
    /// The pending partial block (64 bytes).
    private var block: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var blockCount = 0
    /// Total bytes hashed so far.
    private var length: UInt64 = 0

    public init() {}

    /// Adds bytes to the message.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard var p = bytes.baseAddress, bytes.count > 0 else { return }
        var remaining = bytes.count
        length &+= UInt64(remaining)
        if blockCount > 0 {
            let take = min(Self.blockByteCount - blockCount, remaining)
            let offset = blockCount
            withUnsafeMutableBytes(of: &block) { ($0.baseAddress! + offset).copyMemory(from: p, byteCount: take) }
            blockCount += take
            p += take
            remaining -= take
            guard blockCount == Self.blockByteCount else { return }
            var full = block
            withUnsafeBytes(of: &full) { Self.compress(&state, $0.baseAddress!, blocks: 1) }
            blockCount = 0
        }
        let blocks = remaining / Self.blockByteCount
        if blocks > 0 {
            Self.compress(&state, p, blocks: blocks)
            p += blocks * Self.blockByteCount
            remaining -= blocks * Self.blockByteCount
        }
        if remaining > 0 {
            withUnsafeMutableBytes(of: &block) { $0.baseAddress!.copyMemory(from: p, byteCount: remaining) }
            blockCount = remaining
        }
    }

    /// Adds bytes to the message (`[UInt8]`, `Data`, slices, ...).
    public mutating func update(_ data: some DataProtocol) {
        for region in data.regions {
            region.withUnsafeBytes { update($0) }
        }
    }

    /// The 32-byte digest of everything added so far. The hasher itself is not
    /// changed, so more bytes may be added afterwards.
    public func finalize() -> [UInt8] {
        var copy = self
        let bitLength = length &* 8
        // 0x80, zeros up to 56 mod 64, then the bit length big-endian.
        var tail = [UInt8](repeating: 0, count: (blockCount < 56 ? 64 : 128) - blockCount)
        tail[0] = 0x80
        for i in 0..<8 { tail[tail.count - 1 - i] = UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i))) }
        copy.update(tail)
        let s = copy.state
        var digest = [UInt8]()
        digest.reserveCapacity(Self.digestByteCount)
        for word in [s.a, s.b, s.c, s.d, s.e, s.f, s.g, s.h] {
            digest += [UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word)]
        }
        return digest
    }

    /// The digest of one message.
    public static func hash(_ data: some DataProtocol) -> [UInt8] {
        var h = SHA256()
        h.update(data)
        return h.finalize()
    }

    /// Lower-case hexadecimal, two digits per byte.
    public static func hex(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(digest.count * 2)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A file that could not be read: `PATH: reason`.
    public struct FileError: Error, CustomStringConvertible, LocalizedError {
        public let path: String
        public let code: Int32
        public var description: String { "\(path): \(String(cString: strerror(code)))" }
        public var errorDescription: String? { description }
    }

    /// The hex SHA-256 of a file's contents, read in 1 MiB chunks.
    /// Throws `FileError` (naming the path) if the file cannot be opened or read.
    public static func hashFile(at path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, code: errno) }
        defer { close(fd) }
        #if os(Linux)
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        #endif
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        var hasher = SHA256()
        while true {
            let n = read(fd, buffer.baseAddress, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, code: errno)
            }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return hex(hasher.finalize())
    }

    // MARK: compression

    @inline(__always) static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
    @inline(__always) static func sigma0(_ x: UInt32) -> UInt32 { rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3) }
    @inline(__always) static func sigma1(_ x: UInt32) -> UInt32 { rotr(x, 17) ^ rotr(x, 19) ^ (x >> 10) }

    /// One round; the caller rotates the roles of the eight working variables
    /// instead of moving them, so only `d` and `h` change.
    @inline(__always) static func round(
        _ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: inout UInt32,
        _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: inout UInt32, _ kw: UInt32
    ) {
        let t1 = h &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ (g ^ (e & (f ^ g))) &+ kw
        let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) | (c & (a | b)))
        d = d &+ t1
        h = t1 &+ t2
    }

    @inline(__always) static func word(_ p: UnsafeRawPointer, _ i: Int) -> UInt32 {
        UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
    }

    static func compress(_ state: inout State, _ data: UnsafeRawPointer, blocks: Int) {
        var p = data
        var s = state
        for _ in 0..<blocks {
            var a = s.a, b = s.b, c = s.c, d = s.d, e = s.e, f = s.f, g = s.g, h = s.h
            var w0 = word(p, 0), w1 = word(p, 1), w2 = word(p, 2), w3 = word(p, 3)
            var w4 = word(p, 4), w5 = word(p, 5), w6 = word(p, 6), w7 = word(p, 7)
            var w8 = word(p, 8), w9 = word(p, 9), w10 = word(p, 10), w11 = word(p, 11)
            var w12 = word(p, 12), w13 = word(p, 13), w14 = word(p, 14), w15 = word(p, 15)
            round(a, b, c, &d, e, f, g, &h, 0x428a2f98 &+ w0)
            round(h, a, b, &c, d, e, f, &g, 0x71374491 &+ w1)
            round(g, h, a, &b, c, d, e, &f, 0xb5c0fbcf &+ w2)
            round(f, g, h, &a, b, c, d, &e, 0xe9b5dba5 &+ w3)
            round(e, f, g, &h, a, b, c, &d, 0x3956c25b &+ w4)
            round(d, e, f, &g, h, a, b, &c, 0x59f111f1 &+ w5)
            round(c, d, e, &f, g, h, a, &b, 0x923f82a4 &+ w6)
            round(b, c, d, &e, f, g, h, &a, 0xab1c5ed5 &+ w7)
            round(a, b, c, &d, e, f, g, &h, 0xd807aa98 &+ w8)
            round(h, a, b, &c, d, e, f, &g, 0x12835b01 &+ w9)
            round(g, h, a, &b, c, d, e, &f, 0x243185be &+ w10)
            round(f, g, h, &a, b, c, d, &e, 0x550c7dc3 &+ w11)
            round(e, f, g, &h, a, b, c, &d, 0x72be5d74 &+ w12)
            round(d, e, f, &g, h, a, b, &c, 0x80deb1fe &+ w13)
            round(c, d, e, &f, g, h, a, &b, 0x9bdc06a7 &+ w14)
            round(b, c, d, &e, f, g, h, &a, 0xc19bf174 &+ w15)
            w0 = sigma1(w14) &+ w9 &+ sigma0(w1) &+ w0
            round(a, b, c, &d, e, f, g, &h, 0xe49b69c1 &+ w0)
            w1 = sigma1(w15) &+ w10 &+ sigma0(w2) &+ w1
            round(h, a, b, &c, d, e, f, &g, 0xefbe4786 &+ w1)
            w2 = sigma1(w0) &+ w11 &+ sigma0(w3) &+ w2
            round(g, h, a, &b, c, d, e, &f, 0x0fc19dc6 &+ w2)
            w3 = sigma1(w1) &+ w12 &+ sigma0(w4) &+ w3
            round(f, g, h, &a, b, c, d, &e, 0x240ca1cc &+ w3)
            w4 = sigma1(w2) &+ w13 &+ sigma0(w5) &+ w4
            round(e, f, g, &h, a, b, c, &d, 0x2de92c6f &+ w4)
            w5 = sigma1(w3) &+ w14 &+ sigma0(w6) &+ w5
            round(d, e, f, &g, h, a, b, &c, 0x4a7484aa &+ w5)
            w6 = sigma1(w4) &+ w15 &+ sigma0(w7) &+ w6
            round(c, d, e, &f, g, h, a, &b, 0x5cb0a9dc &+ w6)
            w7 = sigma1(w5) &+ w0 &+ sigma0(w8) &+ w7
            round(b, c, d, &e, f, g, h, &a, 0x76f988da &+ w7)
            w8 = sigma1(w6) &+ w1 &+ sigma0(w9) &+ w8
            round(a, b, c, &d, e, f, g, &h, 0x983e5152 &+ w8)
            w9 = sigma1(w7) &+ w2 &+ sigma0(w10) &+ w9
            round(h, a, b, &c, d, e, f, &g, 0xa831c66d &+ w9)
            w10 = sigma1(w8) &+ w3 &+ sigma0(w11) &+ w10
            round(g, h, a, &b, c, d, e, &f, 0xb00327c8 &+ w10)
            w11 = sigma1(w9) &+ w4 &+ sigma0(w12) &+ w11
            round(f, g, h, &a, b, c, d, &e, 0xbf597fc7 &+ w11)
            w12 = sigma1(w10) &+ w5 &+ sigma0(w13) &+ w12
            round(e, f, g, &h, a, b, c, &d, 0xc6e00bf3 &+ w12)
            w13 = sigma1(w11) &+ w6 &+ sigma0(w14) &+ w13
            round(d, e, f, &g, h, a, b, &c, 0xd5a79147 &+ w13)
            w14 = sigma1(w12) &+ w7 &+ sigma0(w15) &+ w14
            round(c, d, e, &f, g, h, a, &b, 0x06ca6351 &+ w14)
            w15 = sigma1(w13) &+ w8 &+ sigma0(w0) &+ w15
            round(b, c, d, &e, f, g, h, &a, 0x14292967 &+ w15)
            w0 = sigma1(w14) &+ w9 &+ sigma0(w1) &+ w0
            round(a, b, c, &d, e, f, g, &h, 0x27b70a85 &+ w0)
            w1 = sigma1(w15) &+ w10 &+ sigma0(w2) &+ w1
            round(h, a, b, &c, d, e, f, &g, 0x2e1b2138 &+ w1)
            w2 = sigma1(w0) &+ w11 &+ sigma0(w3) &+ w2
            round(g, h, a, &b, c, d, e, &f, 0x4d2c6dfc &+ w2)
            w3 = sigma1(w1) &+ w12 &+ sigma0(w4) &+ w3
            round(f, g, h, &a, b, c, d, &e, 0x53380d13 &+ w3)
            w4 = sigma1(w2) &+ w13 &+ sigma0(w5) &+ w4
            round(e, f, g, &h, a, b, c, &d, 0x650a7354 &+ w4)
            w5 = sigma1(w3) &+ w14 &+ sigma0(w6) &+ w5
            round(d, e, f, &g, h, a, b, &c, 0x766a0abb &+ w5)
            w6 = sigma1(w4) &+ w15 &+ sigma0(w7) &+ w6
            round(c, d, e, &f, g, h, a, &b, 0x81c2c92e &+ w6)
            w7 = sigma1(w5) &+ w0 &+ sigma0(w8) &+ w7
            round(b, c, d, &e, f, g, h, &a, 0x92722c85 &+ w7)
            w8 = sigma1(w6) &+ w1 &+ sigma0(w9) &+ w8
            round(a, b, c, &d, e, f, g, &h, 0xa2bfe8a1 &+ w8)
            w9 = sigma1(w7) &+ w2 &+ sigma0(w10) &+ w9
            round(h, a, b, &c, d, e, f, &g, 0xa81a664b &+ w9)
            w10 = sigma1(w8) &+ w3 &+ sigma0(w11) &+ w10
            round(g, h, a, &b, c, d, e, &f, 0xc24b8b70 &+ w10)
            w11 = sigma1(w9) &+ w4 &+ sigma0(w12) &+ w11
            round(f, g, h, &a, b, c, d, &e, 0xc76c51a3 &+ w11)
            w12 = sigma1(w10) &+ w5 &+ sigma0(w13) &+ w12
            round(e, f, g, &h, a, b, c, &d, 0xd192e819 &+ w12)
            w13 = sigma1(w11) &+ w6 &+ sigma0(w14) &+ w13
            round(d, e, f, &g, h, a, b, &c, 0xd6990624 &+ w13)
            w14 = sigma1(w12) &+ w7 &+ sigma0(w15) &+ w14
            round(c, d, e, &f, g, h, a, &b, 0xf40e3585 &+ w14)
            w15 = sigma1(w13) &+ w8 &+ sigma0(w0) &+ w15
            round(b, c, d, &e, f, g, h, &a, 0x106aa070 &+ w15)
            w0 = sigma1(w14) &+ w9 &+ sigma0(w1) &+ w0
            round(a, b, c, &d, e, f, g, &h, 0x19a4c116 &+ w0)
            w1 = sigma1(w15) &+ w10 &+ sigma0(w2) &+ w1
            round(h, a, b, &c, d, e, f, &g, 0x1e376c08 &+ w1)
            w2 = sigma1(w0) &+ w11 &+ sigma0(w3) &+ w2
            round(g, h, a, &b, c, d, e, &f, 0x2748774c &+ w2)
            w3 = sigma1(w1) &+ w12 &+ sigma0(w4) &+ w3
            round(f, g, h, &a, b, c, d, &e, 0x34b0bcb5 &+ w3)
            w4 = sigma1(w2) &+ w13 &+ sigma0(w5) &+ w4
            round(e, f, g, &h, a, b, c, &d, 0x391c0cb3 &+ w4)
            w5 = sigma1(w3) &+ w14 &+ sigma0(w6) &+ w5
            round(d, e, f, &g, h, a, b, &c, 0x4ed8aa4a &+ w5)
            w6 = sigma1(w4) &+ w15 &+ sigma0(w7) &+ w6
            round(c, d, e, &f, g, h, a, &b, 0x5b9cca4f &+ w6)
            w7 = sigma1(w5) &+ w0 &+ sigma0(w8) &+ w7
            round(b, c, d, &e, f, g, h, &a, 0x682e6ff3 &+ w7)
            w8 = sigma1(w6) &+ w1 &+ sigma0(w9) &+ w8
            round(a, b, c, &d, e, f, g, &h, 0x748f82ee &+ w8)
            w9 = sigma1(w7) &+ w2 &+ sigma0(w10) &+ w9
            round(h, a, b, &c, d, e, f, &g, 0x78a5636f &+ w9)
            w10 = sigma1(w8) &+ w3 &+ sigma0(w11) &+ w10
            round(g, h, a, &b, c, d, e, &f, 0x84c87814 &+ w10)
            w11 = sigma1(w9) &+ w4 &+ sigma0(w12) &+ w11
            round(f, g, h, &a, b, c, d, &e, 0x8cc70208 &+ w11)
            w12 = sigma1(w10) &+ w5 &+ sigma0(w13) &+ w12
            round(e, f, g, &h, a, b, c, &d, 0x90befffa &+ w12)
            w13 = sigma1(w11) &+ w6 &+ sigma0(w14) &+ w13
            round(d, e, f, &g, h, a, b, &c, 0xa4506ceb &+ w13)
            w14 = sigma1(w12) &+ w7 &+ sigma0(w15) &+ w14
            round(c, d, e, &f, g, h, a, &b, 0xbef9a3f7 &+ w14)
            w15 = sigma1(w13) &+ w8 &+ sigma0(w0) &+ w15
            round(b, c, d, &e, f, g, h, &a, 0xc67178f2 &+ w15)
            s.a &+= a; s.b &+= b; s.c &+= c; s.d &+= d
            s.e &+= e; s.f &+= f; s.g &+= g; s.h &+= h
            p += 64
        }
        state = s
    }
}
