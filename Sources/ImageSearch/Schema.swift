/// The tables imgsearch keeps in PostgreSQL, versioned so that a newer tool
/// can tell an older database apart and upgrade it (docs/IMGSEARCH.md).
public enum Schema {
    /// Bumped whenever the DDL below changes; stored in `imgsearch_meta`.
    public static let version = 1
}
