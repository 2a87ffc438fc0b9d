#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLIP
import Foundation

/// Where imgsearch looks for the CLIP model directory.
public enum ModelLocation {
    /// The checkpoint `imgsearch model download` fetches by default.
    public static let defaultRepository = "openai/clip-vit-base-patch32"

    /// imgsearch's data directory (models, the embedded server).
    public static func dataHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        UserDirectories.dataHome(environment: environment)
    }

    /// `owner/name` → `owner--name`, as the Hugging Face cache names repositories.
    public static func directoryName(repository: String) -> String {
        repository.replacingOccurrences(of: "/", with: "--")
    }

    /// Where `imgsearch model download` puts a repository unless told otherwise:
    /// `$XDG_DATA_HOME/imgsearch/models/<owner>--<name>`.
    public static func defaultDirectory(
        repository: String = defaultRepository, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        (dataHome(environment: environment) as NSString)
            .appendingPathComponent("imgsearch/models/" + directoryName(repository: repository))
    }

    /// The model directory to load: `explicit` (`--model`), else
    /// `$IMGSEARCH_CLIP_MODEL`, else the default download directory if it holds
    /// a `config.json`; nil if none applies.
    public static func resolve(
        explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        if let explicit, !explicit.isEmpty { return explicit }
        if let variable = environment[CLIPModel.modelDirectoryVariable], !variable.isEmpty { return variable }
        let directory = defaultDirectory(environment: environment)
        let config = (directory as NSString).appendingPathComponent("config.json")
        return FileManager.default.fileExists(atPath: config) ? directory : nil
    }
}

/// A failed download; `description` is a complete sentence naming the file and URL.
public struct ModelDownloadError: Error, CustomStringConvertible, LocalizedError {
    public enum Kind: Sendable { case notFound, accessDenied, http, network, checksumMismatch, sizeMismatch, disk, busy, badResponse }
    public let kind: Kind
    public let message: String
    public var description: String { message }
    public var errorDescription: String? { message }
}

/// How a downloaded file is checked.
public enum ModelChecksum: Sendable, Equatable, CustomStringConvertible {
    /// SHA-256 of the content (the hub's `X-Linked-Etag` for LFS files).
    case sha256(String)
    /// Git blob id, SHA-1 of `"blob <size>\0" + content` (the `ETag` of files stored in git).
    case gitBlobSHA1(String)
    /// No usable hash: only the size is checked.
    case none

    public var description: String {
        switch self {
        case .sha256(let h): "sha256 \(h)"
        case .gitBlobSHA1(let h): "git blob sha1 \(h)"
        case .none: "size only"
        }
    }

    /// From an `X-Linked-Etag` (LFS) or `ETag` (git) header: quotes and a
    /// weak `W/` prefix removed; 64 hex digits are a SHA-256, 40 a git blob id.
    static func parse(linkedETag: String?, eTag: String?) -> ModelChecksum {
        func normalized(_ tag: String) -> String {
            var t = tag.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("W/") { t.removeFirst(2) }
            return t.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased()
        }
        func isHex(_ s: String, _ count: Int) -> Bool {
            s.utf8.count == count && s.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
        }
        if let linkedETag {
            let t = normalized(linkedETag)
            return isHex(t, 64) ? .sha256(t) : .none
        }
        if let eTag {
            let t = normalized(eTag)
            if isHex(t, 64) { return .sha256(t) }
            if isHex(t, 40) { return .gitBlobSHA1(t) }
        }
        return .none
    }
}

/// Downloads the files of a Hugging Face model repository into a directory,
/// the way `huggingface_hub` does, with resume and verification
/// (docs/CLIP.md, "Getting the model").
///
/// For each file: `HEAD {endpoint}/{repo}/resolve/{revision}/{file}` without
/// following redirects gives the expected size and hash (`X-Linked-Size` and
/// `X-Linked-Etag` on the hub's redirect for LFS files, `Content-Length` and
/// `ETag` for files kept in git). A file already present with that size and
/// hash is skipped. Otherwise the body is fetched (redirects followed) into
/// `<file>.part`, resumed with `Range` if a `.part` exists, checked, and only
/// then renamed to its final name.
public final class ModelDownload {
    public struct File: Sendable, Equatable {
        public let name: String
        public let required: Bool
        public init(_ name: String, required: Bool) {
            self.name = name
            self.required = required
        }
    }

    /// What happened to one file.
    public enum Outcome: Sendable, Equatable {
        case downloaded(bytes: Int64)
        case resumed(from: Int64, bytes: Int64)
        case upToDate
        /// An optional file the repository does not have.
        case absent
    }

    public static let defaultEndpoint = "https://huggingface.co"
    public static let defaultRevision = "main"
    /// A CLIP checkpoint in the Hugging Face layout (what `CLIPModel` reads).
    public static let clipFiles: [File] = [
        File("config.json", required: true),
        File("model.safetensors", required: true),
        File("vocab.json", required: true),
        File("merges.txt", required: true),
        File("preprocessor_config.json", required: true),
        File("tokenizer.json", required: false),
        File("special_tokens_map.json", required: false),
        File("tokenizer_config.json", required: false),
    ]

    public let repository: String
    public let revision: String
    public let endpoint: String
    public let destination: String
    public var files: [File] = ModelDownload.clipFiles
    /// Sent as `Authorization: Bearer` to the endpoint's host only (`$HF_TOKEN`).
    public var token: String?
    /// Progress and per-file notes on standard error.
    public var verbose = true
    /// Seconds without data before a request fails.
    public var idleTimeout: TimeInterval = 60
    /// The commit the revision resolved to (`X-Repo-Commit`), once known.
    public private(set) var commit: String?

    /// - Parameters:
    ///   - endpoint: defaults to `$HF_ENDPOINT`, else `https://huggingface.co`.
    ///   - destination: defaults to `ModelLocation.defaultDirectory(repository:)`.
    public init(
        repository: String = ModelLocation.defaultRepository, revision: String = ModelDownload.defaultRevision,
        endpoint: String? = nil, destination: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.repository = repository
        self.revision = revision
        var e = endpoint ?? environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultEndpoint
        while e.hasSuffix("/") { e.removeLast() }
        self.endpoint = e
        self.destination = destination ?? ModelLocation.defaultDirectory(repository: repository, environment: environment)
        self.token = (environment["HF_TOKEN"] ?? environment["HUGGING_FACE_HUB_TOKEN"]).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `owner/name` or `name`, letters, digits, `-`, `_`, `.`; no `..`.
    public static func isValidRepository(_ repository: String) -> Bool {
        let parts = repository.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !repository.contains("..") else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "-_.".unicodeScalars.contains($0) }
        }
    }

    /// `{endpoint}/{repo}/resolve/{revision}/{file}`, revision and file percent-encoded.
    public func resolveURL(_ file: String) -> URL? {
        var unreserved = CharacterSet.alphanumerics
        unreserved.insert(charactersIn: "-._~")
        func encode(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s }
        let path = file.split(separator: "/").map { encode(String($0)) }.joined(separator: "/")
        return URL(string: "\(endpoint)/\(repository)/resolve/\(encode(revision))/\(path)")
    }

    /// Fetches every file that is missing or differs. Throws `ModelDownloadError`.
    @discardableResult
    public func run() throws -> [(file: String, outcome: Outcome)] {
        do {
            try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        } catch {
            throw ModelDownloadError(kind: .disk, message: "cannot create \(destination): \(Self.reason(error))")
        }
        let lock = try lockDestination()
        defer { close(lock) }
        let http = HTTPSession(idleTimeout: idleTimeout)
        defer { http.close() }
        var results: [(file: String, outcome: Outcome)] = []
        for file in files {
            guard let remote = try metadata(of: file, http) else {
                results.append((file.name, .absent))
                continue
            }
            results.append((file.name, try fetch(remote, http)))
        }
        return results
    }

    // MARK: metadata

    struct Remote {
        let name: String
        /// The resolve URL, after any same-hub redirects (renamed repositories).
        let url: URL
        let size: Int64?
        let checksum: ModelChecksum
    }

    /// HEAD without following redirects; nil for an optional file the
    /// repository does not have.
    func metadata(of file: File, _ http: HTTPSession) throws -> Remote? {
        guard var url = resolveURL(file.name) else {
            throw ModelDownloadError(kind: .badResponse, message: "invalid URL for '\(file.name)' from endpoint '\(endpoint)'")
        }
        for _ in 0..<10 {
            var request = self.request(url)
            request.httpMethod = "HEAD"
            let response: HTTPURLResponse
            do { response = try http.perform(request, followRedirects: false) } catch {
                throw networkError(error, url: url, file: file.name, kept: nil)
            }
            if commit == nil, let c = response.header("X-Repo-Commit") { commit = c }
            let status = response.statusCode
            let linkedETag = response.header("X-Linked-Etag"), linkedSize = response.header("X-Linked-Size")
            if (300..<400).contains(status) {
                if linkedETag != nil || linkedSize != nil {
                    // An LFS file: the hub redirects to its CDN; the hash and size are on this response.
                    return Remote(name: file.name, url: url, size: linkedSize.flatMap { Int64($0) },
                                  checksum: .parse(linkedETag: linkedETag, eTag: nil))
                }
                guard let location = response.header("Location"), let next = URL(string: location, relativeTo: url)?.absoluteURL else {
                    throw ModelDownloadError(kind: .badResponse, message: "HTTP \(status) without a Location header for \(url.forDisplay)")
                }
                url = next
                continue
            }
            if status == 200 {
                let size = linkedSize.flatMap { Int64($0) } ?? response.header("Content-Length").flatMap { Int64($0) }
                return Remote(name: file.name, url: url, size: size,
                              checksum: .parse(linkedETag: linkedETag, eTag: response.header("ETag")))
            }
            let code = response.header("X-Error-Code")
            if status == 404, !file.required, code != "RepoNotFound", code != "RevisionNotFound" { return nil }
            throw httpError(response, url: url, file: file.name)
        }
        throw ModelDownloadError(kind: .badResponse, message: "too many redirects for '\(file.name)', last \(url.forDisplay)")
    }

    func request(_ url: URL) -> URLRequest {
        var request = URLRequest(url: url)
        request.setValue("imgsearch (huggingface_hub-compatible)", forHTTPHeaderField: "User-Agent")
        // Sizes and hashes are of the stored bytes: no transparent compression.
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        if let token, url.host == URL(string: endpoint)?.host {
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        }
        return request
    }

    // MARK: download

    func path(_ name: String) -> String { (destination as NSString).appendingPathComponent(name) }

    func fetch(_ remote: Remote, _ http: HTTPSession) throws -> Outcome {
        let final = path(remote.name), part = final + ".part"
        if FileManager.default.fileExists(atPath: final) {
            if try mismatch(at: final, remote) == nil {
                note("\(remote.name): up to date (\(Self.bytes(remote.size ?? Self.fileSize(final) ?? 0)), \(remote.checksum.kindName) verified)")
                return .upToDate
            }
            note("\(remote.name): differs from \(repository)@\(revision); downloading it again")
        }
        var offset = Self.fileSize(part) ?? 0
        if let size = remote.size, offset > size {
            unlink(part)
            offset = 0
        }
        var total: Int64 = 0
        if let size = remote.size, offset == size, offset > 0 {
            note("\(remote.name): \(remote.name).part is complete; verifying")
        } else {
            try checkSpace(needed: (remote.size ?? 0) - offset, for: remote.name)
            (total, offset) = try download(remote, to: part, from: offset, http)
        }
        // total is what arrived now; the outcome reports where it started.
        let actualSize = Self.fileSize(part) ?? 0
        if let size = remote.size, actualSize < size {
            throw ModelDownloadError(kind: .sizeMismatch, message: "\(remote.name): incomplete: got \(actualSize) of \(size) bytes from \(remote.url.forDisplay); run the command again to resume")
        }
        if let problem = try mismatch(at: part, remote) {
            unlink(part)
            throw ModelDownloadError(kind: problem.kind, message: "\(remote.name): \(problem.message) (downloaded from \(remote.url.forDisplay)); the partial download was deleted")
        }
        guard rename(part, final) == 0 else {
            throw ModelDownloadError(kind: .disk, message: "cannot rename \(part) to \(final): \(String(cString: strerror(errno)))")
        }
        Self.syncDirectory(destination)
        return offset > 0 ? .resumed(from: offset, bytes: total) : .downloaded(bytes: total)
    }

    /// Why the file at `path` is not the remote one, or nil if it is.
    func mismatch(at path: String, _ remote: Remote) throws -> (kind: ModelDownloadError.Kind, message: String)? {
        let size = Self.fileSize(path) ?? -1
        if let expected = remote.size, size != expected {
            return (.sizeMismatch, "size mismatch: expected \(expected) bytes, got \(size)")
        }
        do {
            switch remote.checksum {
            case .sha256(let expected):
                let actual = try SHA256.hashFile(at: path)
                if actual != expected { return (.checksumMismatch, "SHA-256 mismatch: expected \(expected), got \(actual)") }
            case .gitBlobSHA1(let expected):
                let actual = try SHA1.gitBlobID(ofFileAt: path)
                if actual != expected { return (.checksumMismatch, "git blob SHA-1 mismatch: expected \(expected), got \(actual)") }
            case .none:
                // Nothing to compare against: without a size either, fetch again.
                if remote.size == nil { return (.sizeMismatch, "no size or hash from the server to check against") }
            }
        } catch {
            throw ModelDownloadError(kind: .disk, message: "cannot read \(error)")
        }
        return nil
    }

    /// GETs the file into `part`, appending from `offset` when the server
    /// answers 206. Returns the bytes received and the offset actually used.
    func download(_ remote: Remote, to part: String, from offset: Int64, _ http: HTTPSession) throws -> (received: Int64, offset: Int64) {
        var request = self.request(remote.url)
        var keep: [String: String] = [:]
        if offset > 0 {
            keep["Range"] = "bytes=\(offset)-"
            request.setValue(keep["Range"], forHTTPHeaderField: "Range")
        }
        var fd: Int32 = -1
        var start = offset, written = offset
        var finalURL = remote.url
        let progress = ProgressLine(name: remote.name, total: remote.size, verbose: verbose)
        defer { if fd >= 0 { close(fd) } }
        let response: HTTPURLResponse
        do {
            response = try http.perform(request, keepOnRedirect: keep, onResponse: { [self] r in
                finalURL = r.url ?? finalURL
                switch r.statusCode {
                case 206 where offset > 0:
                    let first = r.header("Content-Range").flatMap(Self.contentRangeStart)
                    guard first == offset else {
                        throw ModelDownloadError(kind: .badResponse, message: "\(remote.name): asked for bytes from \(offset) but the server sent range '\(r.header("Content-Range") ?? "none")' (\(finalURL.forDisplay))")
                    }
                    fd = open(part, O_WRONLY | O_APPEND | O_CLOEXEC)
                    progress.begin(at: offset)
                    if fd >= 0 { note("\(remote.name): resuming at \(Self.bytes(offset))") }
                case 200:
                    if offset > 0 { note("\(remote.name): the server does not support resuming; starting again") }
                    start = 0
                    written = 0
                    fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                    progress.begin(at: 0)
                case 416 where offset > 0:
                    return .stop
                default:
                    throw httpError(r, url: finalURL, file: remote.name)
                }
                if fd < 0 {
                    throw ModelDownloadError(kind: .disk, message: "cannot open \(part): \(String(cString: strerror(errno)))")
                }
                return .receiveBody
            }, onData: { data in
                try Self.writeAll(fd, data, path: part, url: finalURL)
                written += Int64(data.count)
                progress.update(written)
            })
        } catch let error as ModelDownloadError {
            throw error
        } catch {
            progress.abandon()
            throw networkError(error, url: finalURL, file: remote.name, kept: (written, part))
        }
        if response.statusCode == 416 {
            // The .part does not fit the current file (it changed upstream): start again.
            unlink(part)
            return try download(remote, to: part, from: 0, http)
        }
        if fsync(fd) != 0 {
            throw ModelDownloadError(kind: .disk, message: "cannot write \(part): \(String(cString: strerror(errno))) (downloading \(finalURL.forDisplay))")
        }
        progress.finish(written)
        return (written - start, start)
    }

    static func writeAll(_ fd: Int32, _ data: Data, path: String, url: URL) throws {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var p = raw.baseAddress!, left = raw.count
            while left > 0 {
                let n = write(fd, p, left)
                if n < 0 {
                    if errno == EINTR { continue }
                    let reason = String(cString: strerror(errno))
                    throw ModelDownloadError(kind: .disk, message: "cannot write \(path): \(reason) (downloading \(url.forDisplay)); free some space and run the command again to resume")
                }
                p += n
                left -= n
            }
        }
    }

    /// `bytes 100-199/200` → 100.
    static func contentRangeStart(_ header: String) -> Int64? {
        let parts = header.trimmingCharacters(in: .whitespaces).split(separator: " ")
        guard parts.count == 2, parts[0].lowercased() == "bytes", let dash = parts[1].firstIndex(of: "-") else { return nil }
        return Int64(parts[1][..<dash])
    }

    func checkSpace(needed: Int64, for name: String) throws {
        var fs = statvfs()
        guard needed > 0, statvfs(destination, &fs) == 0 else { return }
        let available = Int64(fs.f_bavail) * Int64(fs.f_frsize)
        if available < needed {
            throw ModelDownloadError(kind: .disk, message: "not enough disk space in \(destination) for \(name): need \(Self.bytes(needed)), \(Self.bytes(available)) available")
        }
    }

    /// One download per directory at a time (a lock on the directory itself).
    func lockDestination() throws -> Int32 {
        let fd = open(destination, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ModelDownloadError(kind: .disk, message: "cannot open \(destination): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            throw ModelDownloadError(kind: .busy, message: "another download is writing to \(destination)")
        }
        return fd
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    static func fileSize(_ path: String) -> Int64? {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : nil
    }

    // MARK: errors and messages

    func httpError(_ response: HTTPURLResponse, url: URL, file: String) -> ModelDownloadError {
        let status = response.statusCode, code = response.header("X-Error-Code")
        let kind: ModelDownloadError.Kind
        let what: String
        let tokenHint = token == nil ? "set HF_TOKEN to a token that has access" : "the token in HF_TOKEN has no access"
        switch (status, code) {
        case (_, "RepoNotFound"?), (401, _):
            kind = .notFound
            what = "repository '\(repository)' not found at \(endpoint), or it is private or gated (\(tokenHint))"
        case (_, "GatedRepo"?), (403, _):
            kind = .accessDenied
            what = "access to '\(repository)' is restricted (gated or private): accept its conditions on the hub and \(tokenHint)"
        case (_, "RevisionNotFound"?):
            kind = .notFound
            what = "revision '\(revision)' not found in '\(repository)'"
        case (_, "EntryNotFound"?):
            kind = .notFound
            what = "file '\(file)' not found in '\(repository)' at revision '\(revision)'"
        case (404, _):
            kind = .notFound
            what = "not found: repository '\(repository)', revision '\(revision)' or file '\(file)' does not exist"
        default:
            kind = .http
            what = "'\(file)': HTTP \(status) \(HTTPURLResponse.localizedString(forStatusCode: status))"
        }
        var message = "\(what) (HTTP \(status) for \(url.forDisplay))"
        if let server = response.header("X-Error-Message"), !server.isEmpty { message += "; the server says: \(server)" }
        return ModelDownloadError(kind: kind, message: message)
    }

    func networkError(_ error: Error, url: URL, file: String, kept: (bytes: Int64, part: String)?) -> ModelDownloadError {
        var message = "network error for '\(file)' at \(url.forDisplay): \(Self.reason(error))"
        if let kept, kept.bytes > 0 {
            message += "; \(Self.bytes(kept.bytes)) kept in \(kept.part), run the command again to resume"
        }
        return ModelDownloadError(kind: .network, message: message)
    }

    /// Readable text for URLSession's errors (Linux's `localizedDescription` is only a code).
    static func reason(_ error: Error) -> String {
        guard let e = error as? URLError else { return (error as NSError).localizedDescription }
        let text: String
        switch e.code {
        case .networkConnectionLost: text = "the connection was closed before the transfer finished"
        case .timedOut: text = "timed out"
        case .cannotConnectToHost: text = "cannot connect to the server"
        case .cannotFindHost, .dnsLookupFailed: text = "host not found"
        case .notConnectedToInternet: text = "not connected to the network"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
             .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot, .clientCertificateRejected:
            text = "TLS connection failed"
        case .badServerResponse: text = "bad response from the server"
        case .httpTooManyRedirects: text = "too many redirects"
        case .unsupportedURL: text = "unsupported URL"
        default:
            // libcurl's own message, e.g. "transfer closed with 1105724 bytes remaining to read".
            text = ((e as NSError).userInfo[NSLocalizedDescriptionKey] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "transfer failed"
        }
        return "\(text) (URLError \(e.code.rawValue))"
    }

    func note(_ line: String) {
        if verbose { Terminal.standardError("\(line)\n") }
    }

    /// 1234567 → "1.2 MB".
    public static func bytes(_ n: Int64) -> String {
        if n < 1000 { return "\(n) B" }
        let units = ["kB", "MB", "GB", "TB"]
        var value = Double(n) / 1000, unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return String(format: "%.1f %@", value, units[unit])
    }
}

extension ModelChecksum {
    var kindName: String {
        switch self {
        case .sha256: "SHA-256"
        case .gitBlobSHA1: "git blob SHA-1"
        case .none: "size"
        }
    }
}

enum Terminal {
    static let standardErrorIsTerminal = isatty(2) == 1

    static func standardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// Download progress on standard error: a line rewritten in place on a
/// terminal (4 times a second), otherwise a plain line every 5 seconds and
/// one at the end.
final class ProgressLine: @unchecked Sendable {
    let name: String
    let total: Int64?
    let verbose: Bool
    let terminal = Terminal.standardErrorIsTerminal
    var startBytes: Int64 = 0
    var startTime = DispatchTime.now()
    var lastPrint = DispatchTime.now()
    var drawn = false

    init(name: String, total: Int64?, verbose: Bool) {
        self.name = name
        self.total = total
        self.verbose = verbose
    }

    func begin(at bytes: Int64) {
        startBytes = bytes
        startTime = .now()
        lastPrint = .now()
    }

    func seconds(since t: DispatchTime) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t.uptimeNanoseconds) / 1e9 }

    func text(_ bytes: Int64) -> String {
        let elapsed = max(seconds(since: startTime), 1e-3)
        let rate = Double(bytes - startBytes) / elapsed
        var s = "\(name): \(ModelDownload.bytes(bytes))"
        if let total, total > 0 {
            s += " of \(ModelDownload.bytes(total)) (\(Int(Double(bytes) * 100 / Double(total)))%)"
        }
        return s + ", \(ModelDownload.bytes(Int64(rate)))/s"
    }

    func update(_ bytes: Int64) {
        guard verbose, seconds(since: lastPrint) >= (terminal ? 0.25 : 5) else { return }
        lastPrint = .now()
        if terminal {
            Terminal.standardError("\r\(text(bytes))\u{1B}[K")
            drawn = true
        } else {
            Terminal.standardError(text(bytes) + "\n")
        }
    }

    func finish(_ bytes: Int64) {
        guard verbose else { return }
        let line = "\(text(bytes)) in \(String(format: "%.1f", seconds(since: startTime))) s"
        Terminal.standardError(terminal ? "\r\(line)\u{1B}[K\n" : line + "\n")
        drawn = false
    }

    /// Ends a rewritten line before an error message is printed.
    func abandon() {
        if drawn { Terminal.standardError("\n") }
        drawn = false
    }
}

extension URL {
    /// The URL without its query and fragment: CDN redirects carry long
    /// signatures that only clutter messages.
    var forDisplay: String {
        guard var parts = URLComponents(url: self, resolvingAgainstBaseURL: true) else { return absoluteString }
        parts.query = nil
        parts.fragment = nil
        return parts.string ?? absoluteString
    }
}
