import Foundation

/// A file found on disk, with what decides whether it changed since it was
/// indexed.
public struct ScannedFile: Sendable, Equatable {
    public var path: String
    public var size: Int64
    /// Modification time in microseconds since 1970 (what timestamptz keeps).
    public var modifiedMicros: Int64
}

/// Finds image files below directories.
public enum FileScan {
    /// The extensions imgsearch indexes (compared case-insensitively).
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "webp"]

    /// The image files under `roots` (directories searched recursively,
    /// symbolic links to directories not followed; a root may also be a
    /// file), sorted by path, each once however many roots reach it, plus
    /// the paths that could not be read and why.
    public static func scan(roots: [String]) -> (files: [ScannedFile], errors: [(path: String, reason: String)]) {
        var files: [ScannedFile] = []
        var errors: [(path: String, reason: String)] = []
        // A root that does not exist is walked (to be reported) even when
        // it lies inside another.
        let canonical = roots.map(canonicalPath)
        let missing = canonical.filter { access($0, F_OK) != 0 }
        for root in outermost(canonical.filter { !missing.contains($0) }) + missing {
            walk(root, isRoot: true, into: &files, errors: &errors)
        }
        files.sort { $0.path < $1.path }
        return (files, errors)
    }

    /// Canonical roots without the ones inside (or equal to) another: a
    /// folder and a subfolder of it are walked once, as the folder.
    static func outermost(_ roots: [String]) -> [String] {
        let unique = Set(roots).sorted()
        return unique.filter { root in !unique.contains { other in other != root && isInside(root, other) } }
    }

    /// Whether `path` is `folder` or below it (both canonical).
    public static func isInside(_ path: String, _ folder: String) -> Bool {
        path == folder || path.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/")
    }

    /// The absolute, symlink-resolved form of a root as the database stores it.
    public static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return (path as NSString).standardizingPath }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func walk(_ path: String, isRoot: Bool, into files: inout [ScannedFile],
                             errors: inout [(path: String, reason: String)]) {
        var info = stat()
        let status = isRoot ? stat(path, &info) : lstat(path, &info)
        guard status == 0 else {
            errors.append((path, String(cString: strerror(errno))))
            return
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            guard let directory = opendir(path) else {
                errors.append((path, "cannot open directory: \(String(cString: strerror(errno)))"))
                return
            }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                if name == "." || name == ".." { continue }
                walk(path == "/" ? "/" + name : path + "/" + name, isRoot: false, into: &files, errors: &errors)
            }
        case S_IFREG:
            guard isRoot || imageExtensions.contains((path as NSString).pathExtension.lowercased()) else { return }
            let micros = Int64(info.st_mtim.tv_sec) * 1_000_000 + Int64(info.st_mtim.tv_nsec) / 1000
            files.append(ScannedFile(path: path, size: Int64(info.st_size), modifiedMicros: micros))
        default:
            return  // symbolic links below a root, sockets, devices
        }
    }
}
