import ArgumentParser
import CLIP
import Foundation
import ImageSearch

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Embed the photos in folders and store them in PostgreSQL.",
        discussion: """
            Walks each DIR recursively for *.jpg, *.jpeg, *.png and *.webp files. New files and \
            files whose size or modification time changed are read and hashed; those whose content \
            changed are decoded, embedded and stored with their path, SHA-256, size, width, height, \
            EXIF capture time and camera. Unchanged files are skipped, so a re-run is cheap. \
            Paths are stored canonical (absolute, links resolved): a file reached through two \
            folders, or through symbolic links, is indexed once. Links to image files are \
            followed; links to folders, broken links and loops are counted in the summary.

            Each batch is one transaction: an interruption (Ctrl-C, a crash) loses at most the \
            batch in progress, and running the same command again resumes. Files that cannot be \
            read or decoded are listed at the end with their reason; the run continues, and the \
            exit status is 1 if any failed.

            The first run creates the extension, the schema `imgsearch` and its HNSW index.

            A library is tied to the model that made its embeddings. To change the model, \
            `index --model NEW --reembed` embeds every stored photo again with NEW, in batches \
            (resumable: run it again after an interruption); searches use the old embeddings \
            until the last batch, then one transaction switches the library to NEW (changing \
            the vector dimension and rebuilding the index if NEW's differs). Folders given \
            with --reembed are indexed with NEW afterwards.
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: ArgumentHelp("Folders (or single image files) to index.", valueName: "dir"))
    var directories: [String] = []

    @Flag(name: .long, help: "Embed every stored photo again with --model (a model change), then switch the library to it.")
    var reembed = false

    @Flag(name: .long, help: "Remove rows of files under the given folders that no longer exist (with --reembed: rows whose files cannot be embedded again).")
    var prune = false

    @Option(name: .long, help: "Images per batch (and per transaction).")
    var batchSize = 16

    @Flag(name: .long, help: "Embed images as stored, ignoring their EXIF orientation (as transformers does).")
    var ignoreExifOrientation = false

    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        guard reembed || !directories.isEmpty else { throw ValidationError("give at least one folder to index") }
    }

    func run() throws {
        try reportingErrors {
            Interrupt.install()
            let (clip, identity) = try modelOptions.load()
            let session = try database.connect()
            defer { session.close() }
            var library = try Library(connection: session.connection, model: identity, create: true, reembed: reembed)
            if reembed {
                try self.reembed(library: library, model: clip, identity: identity, session: session)
                guard !directories.isEmpty else { return }
                library = try Library(connection: session.connection, model: identity, create: true)
            }
            var options = Indexer.Options(roots: directories.map(CommandLine.rawArgument))
            options.prune = prune
            options.batchSize = batchSize
            options.applyEXIFOrientation = !ignoreExifOrientation
            let indexer = Indexer(library: library, model: clip, options: options, progress: ProgressDisplay(quiet: quiet))
            let report: IndexReport
            do {
                report = try indexer.run(shouldStop: { Interrupt.requested })
            } catch let interrupted as IndexInterrupted {
                FileHandle.standardError.write(Data("imgsearch: \(interrupted)\n".utf8))
                session.close()
                throw ExitCode(130)
            }
            var summary = "\(report.scanned) images found: \(report.embedded) embedded, \(report.unchanged) unchanged"
            if report.touched > 0 { summary += ", \(report.touched) touched (same content)" }
            if report.pruned > 0 { summary += ", \(report.pruned) pruned" }
            summary += ", \(report.failures.count) failed (\(String(format: "%.1f", report.seconds)) s)"
            print(summary)
            if let links = Self.describe(report.links) { print(links) }
            if report.missing > 0 {
                print("\(report.missing) indexed files under these folders no longer exist; --prune removes them")
            }
            if !report.failures.isEmpty {
                FileHandle.standardError.write(Data("failed:\n".utf8))
                for failure in report.failures {
                    FileHandle.standardError.write(Data("  \(failure.path): \(failure.reason)\n".utf8))
                }
                throw ExitCode.failure
            }
        }
    }

    /// The summary line about symbolic links, nil when there were none.
    static func describe(_ links: LinkCounts) -> String? {
        guard links.followed + links.skipped > 0 else { return nil }
        var line = "symbolic links: \(links.followed) to image files followed"
        let reasons = [(links.toFolders, "to a folder", "to folders"), (links.broken, "broken", "broken"),
                       (links.looping, "in a loop", "in a loop")]
            .filter { $0.0 > 0 }.map { "\($0.0) \($0.0 == 1 ? $0.1 : $0.2)" }
        if links.skipped > 0 { line += ", \(links.skipped) skipped (\(reasons.joined(separator: ", ")))" }
        return line
    }

    /// `--reembed`: every row embedded again with the new model, then the
    /// switch; prints what happened and fails when the switch had to wait.
    func reembed(library: Library, model clip: CLIPModel, identity: ModelIdentity, session: Session) throws {
        var options = Reembedder.Options()
        options.batchSize = batchSize
        options.applyEXIFOrientation = !ignoreExifOrientation
        options.dropUnreadable = prune
        let reembedder = Reembedder(library: library, model: clip, identity: identity, options: options,
                                    progress: ProgressDisplay(quiet: quiet))
        let report: ReembedReport
        do {
            report = try reembedder.run(shouldStop: { Interrupt.requested })
        } catch let interrupted as IndexInterrupted {
            FileHandle.standardError.write(Data("imgsearch: \(interrupted)\n".utf8))
            session.close()
            throw ExitCode(130)
        }
        var summary = "\(report.reembedded) re-embedded with model \(identity.name), \(report.failures.count) failed"
        if report.dropped > 0 { summary += ", \(report.dropped) dropped" }
        summary += " (\(String(format: "%.1f", report.seconds)) s)"
        print(summary)
        if report.switched {
            print("the library is now model \(identity.name) (\(identity.dimension)-d); it was \(library.model?.name ?? "?")")
        }
        if !report.failures.isEmpty {
            FileHandle.standardError.write(Data("failed:\n".utf8))
            for failure in report.failures {
                FileHandle.standardError.write(Data("  \(failure.path): \(failure.reason)\n".utf8))
            }
        }
        if !report.switched {
            FileHandle.standardError.write(Data(("imgsearch: not switched: \(report.failures.count) rows could not be embedded again; "
                + "their rows keep model \(library.model?.name ?? "?"). Restore the files and run again, "
                + "or add --prune to drop those rows at the switch\n").utf8))
            throw ExitCode.failure
        }
    }
}
