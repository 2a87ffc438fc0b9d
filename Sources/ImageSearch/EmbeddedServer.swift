import Foundation

/// A private PostgreSQL cluster that imgsearch creates, starts and stops on
/// its own, used when no `--db` is given.
///
/// - The cluster lives in `<home>/pgdata`, where `<home>` is `$IMGSEARCH_HOME`
///   or `$XDG_DATA_HOME/imgsearch` (`~/.local/share/imgsearch`).
/// - It listens on a unix socket inside the data directory only (no TCP), so
///   no port can clash and only its owner can connect; authentication is
///   `trust` for that reason.
/// - Every imgsearch process using it holds a shared `flock` on
///   `<home>/server.lock`; a process that ends and can then take the lock
///   exclusively is the last user and stops the server.
/// - Creating the cluster and starting the server happen under an exclusive
///   `flock` on `<home>/init.lock`, so processes starting together do not
///   race (one runs initdb and pg_ctl start, the others wait and reuse).
public final class EmbeddedServer {
    public let home: String
    public var dataDirectory: String { home + "/pgdata" }
    public static let databaseName = "imgsearch"
    /// Only names the socket file; the server does not listen on TCP.
    static let port = 5432
    private let binaries: String
    private var lockDescriptor: Int32 = -1

    /// The directory of the embedded cluster for this user.
    public static func defaultHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let home = environment["IMGSEARCH_HOME"], !home.isEmpty { return home }
        return UserDirectories.dataHome(environment: environment) + "/imgsearch"
    }

    /// Finds the server binaries; throws a message telling what to install.
    public init(home: String = EmbeddedServer.defaultHome()) throws {
        guard geteuid() != 0 else {
            throw EmbeddedServerError(
                "the embedded PostgreSQL cannot run as root (PostgreSQL refuses to); "
                    + "run imgsearch as a regular user or pass --db URL")
        }
        self.home = (home as NSString).standardizingPath
        binaries = try Self.locateBinaries()
        let socket = self.home + "/pgdata/.s.PGSQL.\(Self.port)"
        guard socket.utf8.count < 108 else {
            throw EmbeddedServerError("the unix socket path \(socket) is longer than 107 bytes; set IMGSEARCH_HOME to a shorter directory")
        }
    }

    /// Creates the cluster on first use, starts it unless it is running, and
    /// returns a libpq connection string for its `imgsearch` database.
    ///
    /// Safe when several processes start at once: each first takes its
    /// shared claim on `server.lock` (so no last user can stop the server
    /// under it), then creating and starting happen under an exclusive lock
    /// on `init.lock`, one process at a time; the others find the cluster
    /// made and the server running.
    public func start() throws -> String {
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        lockDescriptor = try Self.lock(home + "/server.lock", LOCK_SH)
        let initLock = try Self.lock(home + "/init.lock", LOCK_EX)
        defer { close(initLock) }
        let fresh = !FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION")
        if fresh { try initialize() }
        if !isRunning() {
            try runTool("pg_ctl", ["start", "-w", "-t", "60", "-D", dataDirectory, "-l", home + "/server.log"],
                        failure: "the embedded PostgreSQL did not start (see \(home)/server.log)")
        }
        // Also after a run that ended between initdb and CREATE DATABASE.
        let admin = try Connection(connectionString(database: "postgres"))
        if try admin.execute("SELECT 1 FROM pg_database WHERE datname = $1", [Self.databaseName]).rows.isEmpty {
            try admin.run("CREATE DATABASE \(Self.databaseName)")
        }
        return connectionString(database: Self.databaseName)
    }

    /// Opens (creating) `path` and takes a `flock` on it, waiting for it.
    private static func lock(_ path: String, _ operation: Int32) throws -> Int32 {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw EmbeddedServerError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        var status: Int32
        repeat { status = flock(descriptor, operation) } while status != 0 && errno == EINTR
        guard status == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw EmbeddedServerError("cannot lock \(path): \(reason)")
        }
        return descriptor
    }

    /// Releases this process's claim; the last user stops the server.
    public func stop() {
        guard lockDescriptor >= 0 else { return }
        defer { close(lockDescriptor); lockDescriptor = -1 }
        guard flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0 else { return }  // still in use
        if isRunning() {
            _ = try? runTool("pg_ctl", ["stop", "-w", "-m", "fast", "-D", dataDirectory], failure: "pg_ctl stop failed")
        }
    }

    deinit { stop() }

    func connectionString(database: String) -> String {
        // Values quoted as libpq wants: single quotes, backslash escapes.
        func quoted(_ s: String) -> String {
            "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
        return "host=\(quoted(dataDirectory)) port=\(Self.port) dbname=\(quoted(database))"
    }

    /// Makes the cluster in a scratch directory and renames it into place,
    /// so that `pgdata` is either absent or complete. Runs under `init.lock`.
    private func initialize() throws {
        let scratch = home + "/pgdata.new"
        // initdb wants an empty or missing directory: clear a half-made one
        // (a run that crashed here; nobody else can be here now).
        try? FileManager.default.removeItem(atPath: scratch)
        try? FileManager.default.removeItem(atPath: dataDirectory)
        try runTool("initdb", ["-D", scratch, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions"],
                    failure: "initdb failed creating \(scratch)")
        let settings = """

            # imgsearch: a private server on a unix socket in this directory.
            listen_addresses = ''
            unix_socket_directories = '\(dataDirectory.replacingOccurrences(of: "'", with: "''"))'
            port = \(Self.port)

            """
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch + "/postgresql.conf"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(settings.utf8))
        try handle.close()
        guard rename(scratch, dataDirectory) == 0 else {
            throw EmbeddedServerError("cannot rename \(scratch) to \(dataDirectory): \(String(cString: strerror(errno)))")
        }
    }

    private func isRunning() -> Bool {
        (try? runTool("pg_ctl", ["status", "-D", dataDirectory], failure: "")) != nil
    }

    /// Runs a server program; on failure throws `failure` with its output.
    ///
    /// posix_spawn + waitpid rather than Foundation's Process: Process learns
    /// of the child's exit through a descriptor the child inherits, which the
    /// postmaster that `pg_ctl start` leaves behind keeps open, so it would
    /// wait forever. The output goes to `<home>/tool.log` for the same reason.
    @discardableResult
    private func runTool(_ name: String, _ arguments: [String], failure: String) throws -> String {
        let logPath = home + "/tool.log"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let path = binaries + "/" + name
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw EmbeddedServerError("\(failure): cannot run \(path): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        // WIFEXITED && WEXITSTATUS == 0, spelled out (the C macros are not imported).
        guard status & 0x7F == 0 && (status >> 8) & 0xFF == 0 else {
            let detail = text.trimmingCharacters(in: .whitespacesAndNewlines)
            throw EmbeddedServerError(detail.isEmpty ? failure : "\(failure): \(detail)")
        }
        return text
    }

    /// `$IMGSEARCH_PG_BINDIR`, else `pg_config --bindir`, else the newest
    /// `/usr/lib/postgresql/*/bin` (Debian keeps initdb off the PATH).
    static func locateBinaries() throws -> String {
        var candidates: [String] = []
        if let dir = ProcessInfo.processInfo.environment["IMGSEARCH_PG_BINDIR"], !dir.isEmpty {
            candidates.append(dir)  // when set, the only place looked at
        } else {
            if let dir = try? pgConfigBindir() { candidates.append(dir) }
            let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
            for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
                candidates.append("/usr/lib/postgresql/\(version)/bin")
            }
        }
        for dir in candidates where ["initdb", "pg_ctl", "postgres"].allSatisfy({ FileManager.default.isExecutableFile(atPath: "\(dir)/\($0)") }) {
            return dir
        }
        throw EmbeddedServerError(
            "PostgreSQL server programs (initdb, pg_ctl, postgres) not found in \(candidates.isEmpty ? "$IMGSEARCH_PG_BINDIR, pg_config --bindir or /usr/lib/postgresql/*/bin" : candidates.joined(separator: ", ")); "
                + "install the server (Debian: apt install postgresql), set IMGSEARCH_PG_BINDIR, or pass --db URL")
    }

    private static func pgConfigBindir() throws -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["pg_config", "--bindir"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return process.terminationStatus == 0 ? text.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }
}

public struct EmbeddedServerError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
