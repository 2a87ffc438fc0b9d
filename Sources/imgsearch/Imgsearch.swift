import ArgumentParser
import CLIP
import Foundation
import ImageSearch

/// The image-search command-line tool: photos into PostgreSQL, found by text
/// or by a similar photo (docs/IMGSEARCH.md).
@main
struct Imgsearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search photo folders by what they show, with CLIP embeddings in PostgreSQL.",
        subcommands: [IndexCommand.self, SearchCommand.self, SimilarCommand.self, StatusCommand.self, Embed.self, ModelCommand.self])
}

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print CLIP embeddings of texts and images, one line per input.",
        discussion: """
            Images are JPEG, PNG or WebP files; a directory argument is searched recursively \
            for *.jpg, *.jpeg, *.png and *.webp. Output is one JSON object per line, \
            {"kind":"text"|"image","input":...,"embedding":[...]}, or with --format vector \
            one pgvector literal per line. Errors go to standard error, one line per input. \
            Exit status is 0 only if every input succeeded, or with --keep-going.
            """)

    enum Format: String, ExpressibleByArgument { case json, vector }

    @Option(name: .long, help: ArgumentHelp("Model directory (Hugging Face layout).", discussion: "Defaults to $\(CLIPModel.modelDirectoryVariable), then to the directory `imgsearch model download` fills."))
    var model: String?

    @Option(name: .long, help: "A text to embed (repeatable).")
    var text: [String] = []

    @Option(name: .long, help: ArgumentHelp("How texts are cleaned before tokenising: huggingface (CLIPProcessor's tokenizer), openai (ftfy-style repair and HTML unescaping, as CLIP was trained) or transformers-slow.", valueName: "kind"))
    var textCleaning: TextCleaning = .huggingFace

    @Argument(help: "Image files or directories.")
    var inputs: [String] = []

    @Option(name: .long, help: "Output format: json or vector.")
    var format: Format = .json

    @Flag(name: .long, help: "Print raw embeddings instead of L2-normalised ones.")
    var raw = false

    @Flag(name: .long, help: "Rotate images as their EXIF orientation says (transformers does not).")
    var exifOrientation = false

    @Flag(name: .long, help: "Continue after a failed input and exit 0.")
    var keepGoing = false

    @Option(name: .long, help: "Images per forward pass.")
    var batchSize: Int = 16

    @Option(name: .long, help: "Threads for matrix products (OpenBLAS).")
    var threads: Int?

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        guard !text.isEmpty || !inputs.isEmpty else { throw ValidationError("nothing to embed: give --text or image paths") }
        guard ModelLocation.resolve(explicit: model) != nil else {
            throw ValidationError("no model: pass --model DIR, set \(CLIPModel.modelDirectoryVariable), or run `imgsearch model download`")
        }
    }

    func run() throws {
        let directory = ModelLocation.resolve(explicit: model)!
        if let threads { CLIPModel.setThreadCount(threads) }
        let clip: CLIPModel
        do { clip = try CLIPModel(directory: URL(fileURLWithPath: directory)) } catch {
            FileHandle.standardError.write(Data("imgsearch: cannot load model: \(error)\n".utf8))
            throw ExitCode(2)
        }
        var output = Output(format: format)
        var failures = 0
        func fail(_ message: String) throws {
            failures += 1
            FileHandle.standardError.write(Data("imgsearch: \(message)\n".utf8))
            if !keepGoing { throw ExitCode.failure }
        }

        if !text.isEmpty {
            let vectors = try clip.embed(texts: text, cleaning: textCleaning, normalize: !raw)
            for (t, v) in zip(text, vectors) { output.write(kind: "text", input: t, vector: v) }
        }

        let decoder = ImageDecoder(applyEXIFOrientation: exifOrientation)
        var files: [String] = []
        for input in inputs {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory), isDirectory.boolValue {
                files += Self.imageFiles(under: input)
            } else {
                files.append(input)
            }
        }
        var start = 0
        while start < files.count {
            let chunk = files[start..<min(start + batchSize, files.count)]
            start += chunk.count
            var decoded: [(String, RGBImage)] = []
            var errors: [String] = []
            for file in chunk {
                do { decoded.append((file, try decoder.decode(contentsOf: URL(fileURLWithPath: file)))) } catch {
                    errors.append("\(error)")
                }
            }
            // Print what did decode before stopping on a failure in the same batch.
            if !decoded.isEmpty {
                let vectors = try clip.embed(images: decoded.map(\.1), normalize: !raw)
                for ((file, _), v) in zip(decoded, vectors) { output.write(kind: "image", input: file, vector: v) }
            }
            for e in errors { try fail(e) }
        }
        if failures > 0 && !keepGoing { throw ExitCode.failure }
    }

    /// Image files below a directory, sorted for reproducible output.
    static func imageFiles(under directory: String) -> [String] {
        let extensions: Set<String> = ["jpg", "jpeg", "png", "webp"]
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            if extensions.contains((relative as NSString).pathExtension.lowercased()) {
                found.append((directory as NSString).appendingPathComponent(relative))
            }
        }
        return found.sorted()
    }
}

/// Writes one embedding per line to standard output.
struct Output {
    let format: Embed.Format

    mutating func write(kind: String, input: String, vector: [Float]) {
        let numbers = vector.map { "\($0)" }.joined(separator: ",")
        switch format {
        case .vector:
            print("[\(numbers)]")
        case .json:
            print("{\"kind\":\"\(kind)\",\"input\":\(Self.jsonString(input)),\"embedding\":[\(numbers)]}")
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// `--text-cleaning huggingface|openai|transformers-slow`.
extension TextCleaning: ExpressibleByArgument {}
