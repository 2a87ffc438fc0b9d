import CLibPQ
import Foundation

/// An error from the server or from libpq, with the server's SQLSTATE when
/// there is one.
public struct DatabaseError: Error, CustomStringConvertible {
    public var message: String
    public var sqlState: String?
    /// The server's one-line message without severity, context or hint
    /// (libpq's own errors: the whole message).
    public var primary: String
    public var description: String { message }

    public init(message: String, sqlState: String? = nil, primary: String? = nil) {
        self.message = message
        self.sqlState = sqlState
        self.primary = primary ?? message
    }
}

/// The rows of one statement, every value in PostgreSQL's text form.
public struct QueryResult: Sendable {
    public var columns: [String]
    public var rows: [[String?]]

    /// The first row's first value, for `SELECT count(*)`-style queries.
    public var scalar: String? { rows.first?.first ?? nil }
}

/// One libpq connection. Every value from the user travels as a bound
/// parameter (`$1`, `$2`, ...): SQL text is only ever built from constants in
/// this module.
public final class Connection {
    private let handle: OpaquePointer

    /// Connects with a libpq connection string or `postgresql://` URL. An
    /// error never contains the password.
    public init(_ connectionString: String) throws {
        guard let handle = PQconnectdb(connectionString) else {
            throw DatabaseError(message: "out of memory allocating a libpq connection")
        }
        self.handle = handle
        guard PQstatus(handle) == CONNECTION_OK else {
            // deinit runs for a throwing init once every property is set: it closes the handle.
            // libpq quotes parts of a string it cannot parse, the password too.
            let message = ConnectionString(connectionString).scrub(Self.trimmed(PQerrorMessage(handle)))
            throw DatabaseError(message: "cannot connect to PostgreSQL: \(message)")
        }
        // Notices (e.g. "relation already exists, skipping") are for people
        // typing SQL, not for users of a tool.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
    }

    deinit { PQfinish(handle) }

    /// The server's version number, e.g. 150010.
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// Runs one statement with text parameters (nil is SQL NULL).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws -> QueryResult {
        let result = withCStrings(parameters) { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        defer { PQclear(result) }
        try check(result, for: sql)
        return Self.rows(of: result)
    }

    /// Runs statements without parameters (several may be separated by `;`).
    public func run(_ sql: String) throws {
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        try check(result, for: sql)
    }

    /// `BEGIN`, `body`, `COMMIT`; `ROLLBACK` if `body` throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try run("BEGIN")
        do {
            let value = try body()
            try run("COMMIT")
            return value
        } catch {
            try? run("ROLLBACK")
            throw error
        }
    }

    /// Streams `data` into a `COPY ... FROM STDIN` statement.
    public func copyIn(_ sql: String, data: [UInt8]) throws {
        let start = PQexec(handle, sql)
        let status = PQresultStatus(start)
        if status != PGRES_COPY_IN {
            defer { PQclear(start) }
            try check(start, for: sql)
            throw DatabaseError(message: "\(sql): the server did not start COPY")
        }
        PQclear(start)
        let sent = data.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                PQputCopyData(handle, $0, Int32(buffer.count))
            }
        }
        guard sent == 1, PQputCopyEnd(handle, nil) == 1 else {
            throw DatabaseError(message: "COPY failed: \(Self.trimmed(PQerrorMessage(handle)))")
        }
        while let result = PQgetResult(handle) {
            defer { PQclear(result) }
            try check(result, for: sql)
        }
    }

    private func check(_ result: OpaquePointer?, for sql: String) throws {
        guard let result else {
            throw DatabaseError(message: Self.trimmed(PQerrorMessage(handle)))
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_COPY_IN:
            return
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
            throw DatabaseError(message: Self.trimmed(PQresultErrorMessage(result)), sqlState: state, primary: primary)
        }
    }

    private static func rows(of result: OpaquePointer?) -> QueryResult {
        let columnCount = PQnfields(result), rowCount = PQntuples(result)
        let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        var rows: [[String?]] = []
        rows.reserveCapacity(Int(rowCount))
        for r in 0..<rowCount {
            rows.append((0..<columnCount).map { c in
                PQgetisnull(result, r, c) == 1 ? nil : String(cString: PQgetvalue(result, r, c))
            })
        }
        return QueryResult(columns: columns, rows: rows)
    }

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "unknown error" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Calls `body` with a C array of NUL-terminated copies of `strings`.
private func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { $0.map { strdup($0)! } }
    defer { for copy in copies { free(copy) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
}
