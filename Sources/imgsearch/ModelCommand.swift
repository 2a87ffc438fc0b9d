import ArgumentParser
import CLIP
import Foundation
import ImageSearch

/// `imgsearch model ...`: getting the CLIP checkpoint.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Manage the CLIP model.",
        subcommands: [Download.self])

    struct Download: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a CLIP checkpoint from the Hugging Face hub.",
            discussion: """
                Fetches config.json, model.safetensors, vocab.json, merges.txt and \
                preprocessor_config.json (and tokenizer.json, special_tokens_map.json, \
                tokenizer_config.json when the repository has them) from \
                {endpoint}/{repo}/resolve/{revision}/{file}.

                Each file is written to FILE.part and renamed only after it is checked: \
                model.safetensors (an LFS file) against the SHA-256 the hub sends in \
                X-Linked-Etag, the small files against their git blob SHA-1 (ETag), and \
                all against their size. An interrupted download resumes from its .part \
                when the command is run again. Files already present and correct are \
                not downloaded again.

                Progress goes to standard error; the model directory and the \
                \(CLIPModel.modelDirectoryVariable) setting to use it are printed on \
                standard output. Exit status 1 on any failure.
                """)

        @Option(name: .long, help: "Hugging Face repository, owner/name.")
        var repo: String = ModelLocation.defaultRepository

        @Option(name: .long, help: "Branch, tag or commit of the repository.")
        var revision: String = ModelDownload.defaultRevision

        @Option(name: .long, help: ArgumentHelp(
            "Directory to download into.",
            discussion: "Defaults to $XDG_DATA_HOME/imgsearch/models/<owner>--<name> ($XDG_DATA_HOME defaults to ~/.local/share).",
            valueName: "dir"))
        var output: String?

        @Option(name: .long, help: ArgumentHelp(
            "Hub address, for a mirror or a local server.",
            discussion: "Defaults to $HF_ENDPOINT, else \(ModelDownload.defaultEndpoint). $HF_TOKEN, if set, is sent to this host.",
            valueName: "url"))
        var endpoint: String?

        @Option(name: .long, help: ArgumentHelp("Seconds without data before a request fails.", valueName: "seconds"))
        var timeout: Double = 60

        @Flag(name: .long, help: "Print only errors and the result, no progress.")
        var quiet = false

        func validate() throws {
            guard ModelDownload.isValidRepository(repo) else {
                throw ValidationError("--repo must look like owner/name, got '\(repo)'")
            }
            guard !revision.isEmpty else { throw ValidationError("--revision must not be empty") }
            if let endpoint {
                guard let url = URL(string: endpoint), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
                    throw ValidationError("--endpoint must be an http:// or https:// URL, got '\(endpoint)'")
                }
            }
            guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        }

        func run() throws {
            let destination = output.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            let download = ModelDownload(repository: repo, revision: revision, endpoint: endpoint, destination: destination)
            download.verbose = !quiet
            download.idleTimeout = timeout
            if !quiet {
                FileHandle.standardError.write(Data("Downloading \(repo)@\(revision) from \(download.endpoint) into \(download.destination)\n".utf8))
            }
            let results: [(file: String, outcome: ModelDownload.Outcome)]
            do { results = try download.run() } catch {
                FileHandle.standardError.write(Data("imgsearch: \(error)\n".utf8))
                throw ExitCode.failure
            }
            if !quiet {
                var fetched = 0, current = 0
                for (_, outcome) in results {
                    switch outcome {
                    case .downloaded, .resumed: fetched += 1
                    case .upToDate: current += 1
                    case .absent: break
                    }
                }
                let commit = download.commit.map { " (commit \($0))" } ?? ""
                FileHandle.standardError.write(Data("\(fetched) downloaded, \(current) already up to date\(commit)\n".utf8))
            }
            print("Model directory: \(download.destination)")
            print("To use it: export \(CLIPModel.modelDirectoryVariable)=\(Self.shellQuoted(download.destination))")
        }

        static func shellQuoted(_ s: String) -> String {
            let plain = s.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "/._-+:@%,=".unicodeScalars.contains($0) }
            return plain && !s.isEmpty ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }
    }
}
