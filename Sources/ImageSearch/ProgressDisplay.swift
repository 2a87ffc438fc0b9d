import Foundation

/// Progress on standard error: a bar redrawn in place on a terminal, a plain
/// line every few seconds otherwise (logs and pipes get no control codes).
public final class ProgressDisplay {
    private let isTerminal: Bool
    private let quiet: Bool
    private var total = 0
    private var started = Date()
    private var lastLine = Date.distantPast

    public init(quiet: Bool = false, isTerminal: Bool = isatty(STDERR_FILENO) == 1) {
        self.quiet = quiet
        self.isTerminal = isTerminal
    }

    private var verb = ("indexing", "indexed")

    /// Starts counting `total` images; `verb` names the work in the plain
    /// lines (present and past tense).
    public func start(total: Int, verb: (String, String) = ("indexing", "indexed")) {
        self.total = total
        self.verb = verb
        started = Date()
        if !quiet && !isTerminal && total > 0 { write("\(verb.0) \(total) images\n") }
    }

    public func update(done: Int) {
        guard !quiet, total > 0 else { return }
        let elapsed = Date().timeIntervalSince(started)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Self.duration(Double(total - done) / rate) : "?"
        let numbers = "\(done)/\(total)  \(String(format: "%.1f", rate)) images/s  ETA \(eta)"
        if isTerminal {
            let width = 30, filled = total == 0 ? width : width * done / total
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            write("\r[\(bar)] \(numbers)\u{1B}[K")
        } else if Date().timeIntervalSince(lastLine) >= 5 || done == total {
            lastLine = Date()
            write("\(verb.1) \(numbers)\n")
        }
    }

    public func finish() {
        if !quiet && isTerminal && total > 0 { write("\n") }
    }

    /// "42s", "3m05s", "1h02m".
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, s / 60 % 60)
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
