/// The tables imgsearch keeps in PostgreSQL, in their own schema `imgsearch`
/// so that they sit beside an application's tables without clashing.
///
/// Versioned: `imgsearch.meta` records the schema version, the embedding
/// dimension and the model that made the embeddings. A database written by a
/// newer imgsearch is refused rather than misread (docs/IMGSEARCH.md).
public enum Schema {
    /// Bumped whenever the DDL below changes.
    public static let version = 1
    public static let name = "imgsearch"
    public static let table = "imgsearch.images"
    public static let indexName = "images_embedding_idx"
    /// The transaction-level advisory lock that serializes creating and
    /// upgrading the schema ("imgs" in ASCII).
    public static let advisoryLockKey: Int64 = 0x696D_6773

    /// The DDL of version 1 for embeddings of `dimension` floats.
    static func create(dimension: Int) -> String {
        """
        CREATE SCHEMA IF NOT EXISTS imgsearch;
        CREATE TABLE IF NOT EXISTS imgsearch.meta (
            key   text PRIMARY KEY,
            value text NOT NULL
        );
        CREATE TABLE IF NOT EXISTS imgsearch.images (
            id           bigserial PRIMARY KEY,
            path         text NOT NULL UNIQUE,       -- absolute path of the file
            content_hash text NOT NULL,              -- SHA-256 of the file, hex
            size_bytes   bigint NOT NULL,
            modified_at  timestamptz NOT NULL,       -- the file's mtime
            width        integer NOT NULL,           -- after EXIF orientation
            height       integer NOT NULL,
            taken_at     timestamp,                  -- EXIF DateTimeOriginal (camera's wall clock)
            camera       text,                       -- EXIF Make and Model
            embedding    vector(\(dimension)) NOT NULL,  -- CLIP image embedding, L2-normalised
            indexed_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS \(indexName) ON imgsearch.images USING vectors (embedding vector_cos_ops);
        CREATE INDEX IF NOT EXISTS images_content_hash_idx ON imgsearch.images (content_hash);
        """
    }

    /// A per-session staging table that binary COPY fills, one batch per
    /// transaction (emptied at commit).
    public static func createStaging(dimension: Int) -> String {
        """
        CREATE TEMP TABLE IF NOT EXISTS imgsearch_staging (
            path text, content_hash text, size_bytes bigint, modified_at timestamptz,
            width integer, height integer, taken_at timestamp, camera text,
            embedding vector(\(dimension))
        ) ON COMMIT DELETE ROWS
        """
    }

    public static let copyIntoStaging = "COPY imgsearch_staging FROM STDIN (FORMAT binary)"

    /// Moves the staged batch into `imgsearch.images`, replacing rows of
    /// the same path (the batch holds each path once: FileScan de-duplicates).
    public static let upsertFromStaging = """
        INSERT INTO imgsearch.images
            (path, content_hash, size_bytes, modified_at, width, height, taken_at, camera, embedding)
        SELECT path, content_hash, size_bytes, modified_at, width, height, taken_at, camera, embedding
        FROM imgsearch_staging
        ORDER BY path  -- concurrent runs lock rows in one order: no deadlock
        ON CONFLICT (path) DO UPDATE SET
            content_hash = EXCLUDED.content_hash, size_bytes = EXCLUDED.size_bytes,
            modified_at = EXCLUDED.modified_at, width = EXCLUDED.width, height = EXCLUDED.height,
            taken_at = EXCLUDED.taken_at, camera = EXCLUDED.camera,
            embedding = EXCLUDED.embedding, indexed_at = now()
        """
}
