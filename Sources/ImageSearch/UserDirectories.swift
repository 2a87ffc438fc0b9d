import Foundation

/// Where per-user data goes, as the XDG base directory specification says.
public enum UserDirectories {
    /// `$XDG_DATA_HOME`, or `~/.local/share` when it is unset, empty or not
    /// absolute.
    public static func dataHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") { return xdg }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".local/share")
    }
}
