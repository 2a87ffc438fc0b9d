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
}
