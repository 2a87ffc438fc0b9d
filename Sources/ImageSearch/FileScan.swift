import Foundation

/// A file system path as the kernel has it: bytes, which need not be valid
/// UTF-8 (a Latin-1 name from an old camera card, a name made by a program).
/// imgsearch stores and compares these bytes; `display` is only for people.
public struct RawPath: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { bytes = Array(string.utf8) }

    /// The path as text, invalid UTF-8 shown as U+FFFD (lossy: two paths
    /// may display alike).
    public var display: String { String(decoding: bytes, as: UTF8.self) }
    public var description: String { display }

    /// Whether `display` is the path itself.
    public var isValidUTF8: Bool { String(validating: bytes, as: UTF8.self) != nil }

    /// Lowercase hex of the bytes (bytea's hex digits).
    public var hex: String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// The bytes as a bytea literal in hex form (`\x...`), for a bound parameter.
    public var byteaLiteral: String { "\\x" + hex }

    /// Parses bytea's hex output (`\x...` or bare hex digits).
    public init?(byteaHex text: String) {
        var digits = Substring(text)
        if digits.hasPrefix("\\x") { digits = digits.dropFirst(2) }
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var i = digits.startIndex
        while i < digits.endIndex {
            let j = digits.index(i, offsetBy: 2)
            guard let byte = UInt8(digits[i..<j], radix: 16) else { return nil }
            bytes.append(byte)
            i = j
        }
        self.bytes = bytes
    }

    /// The last component.
    public var lastComponent: RawPath {
        RawPath(bytes: Array(bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).last ?? []))
    }

    /// `self/name` (`/name` for the root).
    public func appending(_ name: [UInt8]) -> RawPath {
        RawPath(bytes: (bytes == [UInt8(ascii: "/")] ? bytes : bytes + [UInt8(ascii: "/")]) + name)
    }

    /// Whether this is `folder` or below it.
    public func isInside(_ folder: RawPath) -> Bool {
        if bytes == folder.bytes { return true }
        let prefix = folder.bytes.last == UInt8(ascii: "/") ? folder.bytes : folder.bytes + [UInt8(ascii: "/")]
        return bytes.starts(with: prefix)
    }

    /// Calls `body` with the path as a NUL-terminated C string.
    public func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try (bytes + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    /// The whole file, or the reason it cannot be read.
    public func readContents() -> Result<Data, FileReadError> {
        let descriptor = withCString { open($0, O_RDONLY | O_CLOEXEC) }
        guard descriptor >= 0 else { return .failure(FileReadError(errno: errno)) }
        defer { close(descriptor) }
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(FileReadError(errno: errno))
            }
            if count == 0 { return .success(data) }
            data.append(contentsOf: chunk[0..<count])
        }
    }

    public static func < (a: RawPath, b: RawPath) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

/// Why a file could not be read: the system's message for `errno`.
public struct FileReadError: Error, CustomStringConvertible {
    public var errno: Int32
    public var description: String { String(cString: strerror(errno)) }
}

extension CommandLine {
    /// The bytes of the command-line argument that `argument` was decoded
    /// from: Swift decodes arguments as UTF-8, replacing invalid bytes, so
    /// a file name that is not UTF-8 has to be looked up in `argv` itself.
    /// Falls back to `argument`'s UTF-8 when no argument decodes to it.
    public static func rawArgument(_ argument: String) -> RawPath {
        for i in 1..<Int(argc) {
            guard let pointer = unsafeArgv[i] else { continue }
            let bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self),
                                                  count: strlen(pointer)))
            if String(decoding: bytes, as: UTF8.self) == argument { return RawPath(bytes: bytes) }
        }
        return RawPath(argument)
    }
}

/// A file found on disk, with what decides whether it changed since it was
/// indexed.
public struct ScannedFile: Sendable, Equatable {
    /// The path's bytes, canonical (absolute, the roots' links resolved).
    public var raw: RawPath
    public var size: Int64
    /// Modification time in microseconds since 1970 (what timestamptz keeps).
    public var modifiedMicros: Int64

    /// The path for display (lossy for names that are not UTF-8).
    public var path: String { raw.display }

    public init(raw: RawPath, size: Int64, modifiedMicros: Int64) {
        self.raw = raw
        self.size = size
        self.modifiedMicros = modifiedMicros
    }

    init(raw: RawPath, info: stat) {
        self.init(raw: raw, size: Int64(info.st_size),
                  modifiedMicros: Int64(info.st_mtim.tv_sec) * 1_000_000 + Int64(info.st_mtim.tv_nsec) / 1000)
    }
}

/// What a scan did with the symbolic links it met below the roots.
public struct LinkCounts: Sendable, Equatable {
    /// Links to image files, whose targets were indexed (each once).
    public var followed = 0
    /// Links to folders: not followed, as a walk through them could loop or
    /// leave the folders given.
    public var toFolders = 0
    /// Links whose target does not exist.
    public var broken = 0
    /// Links that lead back to themselves (ELOOP).
    public var looping = 0

    public init() {}

    public var skipped: Int { toFolders + broken + looping }
}

/// The image files under some roots, what could not be read, and the links.
public struct ScanResult: Sendable {
    public var files: [ScannedFile] = []
    public var errors: [(path: String, reason: String)] = []
    public var links = LinkCounts()
}

/// Finds image files below directories.
public enum FileScan {
    /// The extensions imgsearch indexes (compared case-insensitively).
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "webp"]

    /// The image files under `roots` (directories searched recursively; a
    /// root may also be a file), sorted by path, each once however many
    /// roots or links reach it, plus the paths that could not be read and
    /// why. A symbolic link below a root to an image file yields the file
    /// under its own canonical path; links to folders are not followed.
    public static func scan(roots: [RawPath]) -> ScanResult {
        var result = ScanResult()
        // A root that does not exist is walked (to be reported) even when
        // it lies inside another.
        let canonical = roots.map(canonicalPath)
        let missing = canonical.filter { path in path.withCString { access($0, F_OK) } != 0 }
        for root in outermost(canonical.filter { !missing.contains($0) }) + missing {
            walk(root, isRoot: true, into: &result)
        }
        result.files.sort { $0.raw < $1.raw }
        // A file reached directly and through links, or through two links.
        var seen = Set<RawPath>()
        result.files.removeAll { !seen.insert($0.raw).inserted }
        return result
    }

    public static func scan(roots: [String]) -> (files: [ScannedFile], errors: [(path: String, reason: String)]) {
        let result = scan(roots: roots.map(RawPath.init))
        return (result.files, result.errors)
    }

    /// Canonical roots without the ones inside (or equal to) another: a
    /// folder and a subfolder of it are walked once, as the folder.
    static func outermost(_ roots: [RawPath]) -> [RawPath] {
        let unique = Set(roots).sorted()
        return unique.filter { root in !unique.contains { other in other != root && root.isInside(other) } }
    }

    /// Whether `path` is `folder` or below it (both canonical).
    public static func isInside(_ path: String, _ folder: String) -> Bool {
        RawPath(path).isInside(RawPath(folder))
    }

    /// The absolute, symlink-resolved form of a path as the database stores
    /// it; a path that does not exist is made absolute and tidied instead.
    public static func canonicalPath(_ path: RawPath) -> RawPath {
        if let resolved = path.withCString({ realpath($0, nil) }) {
            defer { free(resolved) }
            return RawPath(bytes: Array(UnsafeBufferPointer(
                start: UnsafeRawPointer(resolved).assumingMemoryBound(to: UInt8.self), count: strlen(resolved))))
        }
        if path.isValidUTF8 { return RawPath((path.display as NSString).standardizingPath) }
        guard path.bytes.first != UInt8(ascii: "/") else { return path }
        return RawPath(FileManager.default.currentDirectoryPath).appending(path.bytes)
    }

    public static func canonicalPath(_ path: String) -> String { canonicalPath(RawPath(path)).display }

    private static func walk(_ path: RawPath, isRoot: Bool, into result: inout ScanResult) {
        var info = stat()
        let status = path.withCString { isRoot ? stat($0, &info) : lstat($0, &info) }
        guard status == 0 else {
            result.errors.append((path.display, String(cString: strerror(errno))))
            return
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            guard let directory = path.withCString({ opendir($0) }) else {
                result.errors.append((path.display, "cannot open directory: \(String(cString: strerror(errno)))"))
                return
            }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
                if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
                walk(path.appending(name), isRoot: false, into: &result)
            }
        case S_IFREG:
            guard isRoot || isImageName(path) else { return }
            result.files.append(ScannedFile(raw: path, info: info))
        case S_IFLNK:
            followLink(path, into: &result)
        default:
            return  // sockets, devices, pipes
        }
    }

    /// A link below a root: an image file it leads to (through any chain of
    /// links) is found under its canonical path; the rest is counted.
    private static func followLink(_ link: RawPath, into result: inout ScanResult) {
        guard let resolved = link.withCString({ realpath($0, nil) }) else {
            if errno == ELOOP { result.links.looping += 1 } else { result.links.broken += 1 }
            return
        }
        let target = RawPath(bytes: Array(UnsafeBufferPointer(
            start: UnsafeRawPointer(resolved).assumingMemoryBound(to: UInt8.self), count: strlen(resolved))))
        free(resolved)
        var info = stat()
        guard target.withCString({ stat($0, &info) }) == 0 else {
            result.links.broken += 1
            return
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            result.links.toFolders += 1
        case S_IFREG where isImageName(target) || isImageName(link):
            result.links.followed += 1
            result.files.append(ScannedFile(raw: target, info: info))
        default:
            return  // a link to a file of another kind, as that file would be
        }
    }

    /// Whether the name ends in one of `imageExtensions` (any case).
    static func isImageName(_ path: RawPath) -> Bool {
        guard let dot = path.bytes.lastIndex(of: UInt8(ascii: ".")),
              !path.bytes[dot...].contains(UInt8(ascii: "/")) else { return false }
        return imageExtensions.contains(String(decoding: path.bytes[(dot + 1)...], as: UTF8.self).lowercased())
    }
}
