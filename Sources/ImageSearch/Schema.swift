/// The tables imgsearch keeps in PostgreSQL, in their own schema `imgsearch`
/// so that they sit beside an application's tables without clashing.
///
/// Versioned: `imgsearch.meta` records the schema version, the embedding
/// dimension and the model that made the embeddings. A database written by a
/// newer imgsearch is refused rather than misread (docs/IMGSEARCH.md).
public enum Schema {
    /// Bumped whenever the DDL below changes; `migrations` brings an older
    /// database forward.
    public static let version = 3
    public static let name = "imgsearch"
    public static let table = "imgsearch.images"
    public static let indexName = "images_embedding_idx"
    /// The transaction-level advisory lock that serializes creating and
    /// upgrading the schema ("imgs" in ASCII).
    public static let advisoryLockKey: Int64 = 0x696D_6773

    /// The DDL of the current version for embeddings of `dimension` floats.
    static func create(dimension: Int) -> String {
        """
        CREATE SCHEMA IF NOT EXISTS imgsearch;
        CREATE TABLE IF NOT EXISTS imgsearch.meta (
            key   text PRIMARY KEY,
            value text NOT NULL
        );
        CREATE TABLE IF NOT EXISTS imgsearch.images (
            id           bigserial PRIMARY KEY,
            path_bytes   bytea NOT NULL UNIQUE,      -- absolute path of the file, its bytes
            path         text NOT NULL,              -- the same as text (invalid UTF-8 shown as U+FFFD)
            content_hash text NOT NULL,              -- SHA-256 of the file, hex
            size_bytes   bigint NOT NULL,
            modified_at  timestamptz NOT NULL,       -- the file's mtime
            width        integer NOT NULL,           -- after EXIF orientation
            height       integer NOT NULL,
            taken_at     timestamp,                  -- EXIF DateTimeOriginal (camera's wall clock)
            camera       text,                       -- EXIF Make and Model
            embedding    vector(\(dimension)) NOT NULL,  -- CLIP image embedding, L2-normalised
            next_embedding vector,                   -- the next model's, while `index --reembed` runs
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
            path_bytes bytea, path text, content_hash text, size_bytes bigint, modified_at timestamptz,
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
            (path_bytes, path, content_hash, size_bytes, modified_at, width, height, taken_at, camera, embedding)
        SELECT path_bytes, path, content_hash, size_bytes, modified_at, width, height, taken_at, camera, embedding
        FROM imgsearch_staging
        ORDER BY path_bytes  -- concurrent runs lock rows in one order: no deadlock
        ON CONFLICT (path_bytes) DO UPDATE SET
            path = EXCLUDED.path, content_hash = EXCLUDED.content_hash, size_bytes = EXCLUDED.size_bytes,
            modified_at = EXCLUDED.modified_at, width = EXCLUDED.width, height = EXCLUDED.height,
            taken_at = EXCLUDED.taken_at, camera = EXCLUDED.camera,
            embedding = EXCLUDED.embedding, next_embedding = NULL, indexed_at = now()
        """

    /// The upgrades: `migrations[n - 1]` takes a database from version `n`
    /// to `n + 1`. Each runs in the transaction that opens the database,
    /// under the advisory lock, and never loses a row.
    static let migrations: [String] = [
        // 1 -> 2: paths as their bytes (a file name need not be UTF-8); the
        // text stays for display and filters, no longer unique (two byte
        // strings may display alike). Version 1 only stored valid UTF-8.
        """
        ALTER TABLE imgsearch.images ADD COLUMN path_bytes bytea;
        UPDATE imgsearch.images SET path_bytes = convert_to(path, 'UTF8');
        ALTER TABLE imgsearch.images ALTER COLUMN path_bytes SET NOT NULL;
        ALTER TABLE imgsearch.images ADD CONSTRAINT images_path_bytes_key UNIQUE (path_bytes);
        ALTER TABLE imgsearch.images DROP CONSTRAINT images_path_key;
        """,
        // 2 -> 3: room for the next model's embedding while re-embedding
        // (any dimension; NULL outside a re-embed).
        """
        ALTER TABLE imgsearch.images ADD COLUMN next_embedding vector;
        """,
    ]

    /// Makes the re-embedded vectors the embeddings: the column takes the
    /// new dimension (a rewrite of the table), the index is built again.
    static func switchEmbeddings(dimension: Int) -> String {
        """
        DROP INDEX IF EXISTS imgsearch.\(indexName);
        ALTER TABLE imgsearch.images ALTER COLUMN embedding TYPE vector(\(dimension)) USING next_embedding::vector(\(dimension));
        ALTER TABLE imgsearch.images DROP COLUMN next_embedding;
        ALTER TABLE imgsearch.images ADD COLUMN next_embedding vector;
        CREATE INDEX \(indexName) ON imgsearch.images USING vectors (embedding vector_cos_ops);
        DROP TABLE IF EXISTS pg_temp.imgsearch_staging;
        """
    }
}
