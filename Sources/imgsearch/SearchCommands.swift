import ArgumentParser
import CLIP
import Foundation
import ImageSearch

/// The options `search` and `similar` share.
struct ResultOptions: ParsableArguments {
    @Option(name: .long, help: "How many photos to show.")
    var limit = 10

    @Option(name: .long, help: ArgumentHelp("Only photos taken at or after this time (YYYY-MM-DD[ HH:MM[:SS]]).", valueName: "date"))
    var after: String?

    @Option(name: .long, help: ArgumentHelp("Only photos taken before this time (YYYY-MM-DD[ HH:MM[:SS]]).", valueName: "date"))
    var before: String?

    @Option(name: .long, help: ArgumentHelp("Only photos whose EXIF camera make/model contains this text (any case).", valueName: "name"))
    var camera: String?

    @Option(name: .long, help: ArgumentHelp("Only paths matching this glob (* and ?): the whole path if it contains /, else the file name.", valueName: "glob"))
    var pathGlob: String?

    @Flag(name: .long, help: "One JSON object per line instead of a table.")
    var json = false

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be positive, got \(limit)") }
        for (name, value) in [("--after", after), ("--before", before)] {
            if let value, !SearchFilter.isValidDate(value) {
                throw ValidationError("\(name) '\(value)' is not a date: expected YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]")
            }
        }
    }

    var filter: SearchFilter { SearchFilter(after: after, before: before, camera: camera, pathGlob: pathGlob) }

    /// Loads the model, opens the database, and prints the photos nearest to
    /// the embedding `query` computes.
    func search(database: DatabaseOptions, model: ModelOptions,
                query: (CLIPModel, Library) throws -> [Float]) throws {
        let (clip, identity) = try model.load()
        let session = try database.connect()
        defer { session.close() }
        let library = try Library(connection: session.connection, model: identity, create: false)
        guard library.isInitialized else {
            throw CLIError("nothing indexed yet in \(session.location): run `imgsearch index DIR` first")
        }
        print(try library.search(embedding: try query(clip, library), filter: filter, limit: limit))
    }

    func print(_ hits: [SearchHit]) {
        if json {
            for hit in hits {
                var fields = ["\"rank\":\(hit.rank)", "\"distance\":\(hit.distance)", "\"path\":\(Output.jsonString(hit.path))"]
                // JSON holds text: a name that is not UTF-8 also comes as its bytes.
                if !hit.rawPath.isValidUTF8 { fields.append("\"path_bytes\":\"\(hit.rawPath.hex)\"") }
                fields.append("\"taken_at\":" + (hit.takenAt.map(Output.jsonString) ?? "null"))
                fields.append("\"camera\":" + (hit.camera.map(Output.jsonString) ?? "null"))
                Swift.print("{" + fields.joined(separator: ",") + "}")
            }
        } else {
            for hit in hits {
                // The path's own bytes, so that the line names the file.
                let line = Array(String(format: "%3d  %.4f  ", hit.rank, hit.distance).utf8) + hit.rawPath.bytes + [0x0A]
                FileHandle.standardOutput.write(Data(line))
            }
        }
    }
}

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find photos by a text description.",
        discussion: """
            Prints rank, cosine distance and path of the nearest photos that pass the filters. \
            The filters run inside PostgreSQL while the index streams candidates (vbase mode), \
            so a filter never shortens the list while enough photos qualify.
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var results: ResultOptions

    @Argument(help: "What the photos show, e.g. \"a red mushroom\".")
    var text: String

    @Option(name: .long, help: ArgumentHelp("How the text is cleaned before tokenising: huggingface, openai or transformers-slow (see imgsearch embed).", valueName: "kind"))
    var textCleaning: TextCleaning = .huggingFace

    func run() throws {
        try reportingErrors {
            try results.search(database: database, model: modelOptions) { clip, _ in try clip.embed(texts: [text], cleaning: textCleaning)[0] }
        }
    }
}

struct SimilarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similar",
        abstract: "Find photos that look like a given one.",
        discussion: """
            An indexed photo is looked up by path and its stored embedding is used (so it comes \
            first itself, at distance 0); any other image file is decoded and embedded.
            """)

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var results: ResultOptions

    @Argument(help: "An image file.")
    var image: String

    @Flag(name: .long, help: "Embed the image as stored, ignoring its EXIF orientation.")
    var ignoreExifOrientation = false

    func run() throws {
        try reportingErrors {
            try results.search(database: database, model: modelOptions) { clip, library in
                let path = CommandLine.rawArgument(image)
                if let stored = try library.storedEmbedding(path: FileScan.canonicalPath(path)) { return stored }
                let data: Data
                switch path.readContents() {
                case .success(let contents): data = contents
                case .failure(let error): throw CLIError("cannot read \(image): \(error)")
                }
                let decoded = try ImageDecoder(applyEXIFOrientation: !ignoreExifOrientation).decode(data, name: image)
                return try clip.embed(images: [decoded])[0]
            }
        }
    }
}
