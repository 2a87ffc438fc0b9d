import ArgumentParser
import CLIP
import Foundation
import ImageSearch
import Synchronization

/// `--db`: which PostgreSQL to use.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "PostgreSQL connection URL or libpq connection string.",
        discussion: "Defaults to $DATABASE_URL; without either, a private PostgreSQL cluster in $IMGSEARCH_HOME (default ~/.local/share/imgsearch) that imgsearch creates, starts and stops itself.",
        valueName: "url"))
    var db: String?

    /// Connects, starting the embedded server when no URL is given.
    func connect() throws -> Session {
        if let url = db ?? ProcessInfo.processInfo.environment["DATABASE_URL"].flatMap({ $0.isEmpty ? nil : $0 }) {
            return Session(connection: try Connection(url), server: nil, location: Self.redacted(url))
        }
        let server = try EmbeddedServer()
        let connection: Connection
        do {
            connection = try Connection(try server.start())
        } catch {
            server.stop()
            throw error
        }
        return Session(connection: connection, server: server, location: "embedded, \(server.dataDirectory)")
    }

    /// The URL without its password, for `status` and messages.
    static func redacted(_ url: String) -> String { ConnectionString(url).redacted }
}

/// `--model` and `--threads`.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "CLIP model directory (Hugging Face layout).",
        discussion: "Defaults to $\(CLIPModel.modelDirectoryVariable), then to the directory `imgsearch model download` fills.",
        valueName: "dir"))
    var model: String?

    @Option(name: .long, help: "Threads for matrix products (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive, got \(threads)") }
    }

    /// The model directory, or an error telling how to get one.
    func directory() throws -> String {
        guard let directory = ModelLocation.resolve(explicit: model) else {
            throw CLIError("no CLIP model: pass --model DIR, set \(CLIPModel.modelDirectoryVariable), or run `imgsearch model download`")
        }
        return directory
    }

    func load() throws -> (CLIPModel, ModelIdentity) {
        let directory = try directory()
        if let threads { CLIPModel.setThreadCount(threads) }
        do {
            let clip = try CLIPModel(directory: URL(fileURLWithPath: directory))
            return (clip, try ModelIdentity(directory: directory, dimension: clip.config.projectionDim))
        } catch {
            throw CLIError("cannot load the model in \(directory): \(error)")
        }
    }
}

/// An open database, with the embedded server if imgsearch started one.
final class Session {
    let connection: Connection
    let server: EmbeddedServer?
    /// Where the data is, for messages.
    let location: String

    init(connection: Connection, server: EmbeddedServer?, location: String) {
        self.connection = connection
        self.server = server
        self.location = location
    }

    func close() { server?.stop() }
}

/// A message for the user, printed as `imgsearch: <message>`.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command body, printing any error as one `imgsearch: ...` line and
/// exiting with status 1 (ArgumentParser's exit codes pass through).
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        FileHandle.standardError.write(Data("imgsearch: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

/// Ctrl-C: the first asks the running command to stop at a safe point (the
/// batch in progress is rolled back); the second ends the process at once.
enum Interrupt {
    private static let flag = Atomic<Bool>(false)
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static var requested: Bool { flag.load(ordering: .relaxed) }

    static func install() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                if flag.exchange(true, ordering: .relaxed) { exit(130) }
                FileHandle.standardError.write(Data("\nimgsearch: stopping after the current batch (interrupt again to quit now)\n".utf8))
            }
            source.resume()
            sources.append(source)
        }
    }
}
