import CLibPQ
import Foundation
import SyncCore

public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case connection, query }
    public var kind: Kind
    public var message: String
    /// The five-character SQLSTATE, when the server sent one.
    public var sqlState: String?

    public var description: String {
        sqlState.map { "\(message) (SQLSTATE \($0))" } ?? message
    }
}

/// How to reach one PostgreSQL server. Passed to libpq as keyword/value pairs, so no value is
/// ever spliced into a conninfo string.
public struct PGConnectionParameters: Sendable {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: Secret?
    public var database: String?
    public var connectTimeoutSeconds: Int
    public var sslmode: String?
    public var applicationName: String
    /// Server settings for the session, e.g. ["statement_timeout": "15s"].
    public var settings: [String: String]

    public init(endpoint: EndpointConfig, applicationName: String = "syncd", settings: [String: String] = [:]) {
        host = endpoint.host
        port = endpoint.port
        user = endpoint.user
        password = endpoint.password
        database = endpoint.database
        connectTimeoutSeconds = endpoint.connectTimeoutSeconds
        sslmode = endpoint.sslmode
        self.applicationName = applicationName
        self.settings = settings
    }

    var keywordValues: [(String, String)] {
        var pairs: [(String, String)] = [
            ("host", host), ("port", String(port)), ("connect_timeout", String(connectTimeoutSeconds)),
            ("application_name", applicationName),
            // One bad server must not hang a poll loop: TCP keepalives detect a dead peer.
            ("keepalives", "1"), ("keepalives_idle", "10"), ("keepalives_interval", "5"), ("keepalives_count", "3"),
        ]
        if let user { pairs.append(("user", user)) }
        if let password { pairs.append(("password", password.value)) }
        if let database { pairs.append(("dbname", database)) }
        if let sslmode { pairs.append(("sslmode", sslmode)) }
        if !settings.isEmpty {
            let options = settings.sorted { $0.key < $1.key }.map { "-c \($0.key)=\($0.value)" }.joined(separator: " ")
            pairs.append(("options", options))
        }
        return pairs
    }

    public var displayName: String { "\(host):\(port)/\(database ?? "")" }
}

/// Rows of a small result, copied out of libpq as text (the PGresult is freed before returning).
public struct PGRows: Sendable {
    public let columns: [String]
    public let rows: [[String?]]

    public var count: Int { rows.count }

    public func value(_ row: Int, _ column: String) -> String? {
        guard row < rows.count, let index = columns.firstIndex(of: column) else { return nil }
        return rows[row][index]
    }
}

/// One libpq connection. Owns its `PGconn` and frees it on deinit; every libpq call runs on the
/// connection's own serial queue, off the cooperative pool.
public final class PGConnection: @unchecked Sendable {
    // @unchecked: `handle` is used only inside `queue` (serial) and in deinit, when no one else holds us.
    private let handle: OpaquePointer
    private let queue: BlockingQueue
    public let parameters: PGConnectionParameters

    private init(handle: OpaquePointer, queue: BlockingQueue, parameters: PGConnectionParameters) {
        self.handle = handle
        self.queue = queue
        self.parameters = parameters
    }

    deinit {
        PQfinish(handle)
    }

    public static func connect(_ parameters: PGConnectionParameters) async throws -> PGConnection {
        let queue = BlockingQueue(label: "syncd.libpq.\(parameters.displayName)")
        let box = try await queue.run { () throws -> HandleBox in
            let pairs = parameters.keywordValues
            let handle = withCStringArray(pairs.map(\.0)) { keywords in
                withCStringArray(pairs.map(\.1)) { values in
                    PQconnectdbParams(keywords, values, 0)
                }
            }
            guard let handle else {
                throw PostgresError(kind: .connection, message: "libpq could not allocate a connection")
            }
            guard PQstatus(handle) == CONNECTION_OK else {
                let message = errorMessage(handle)
                PQfinish(handle)
                throw PostgresError(kind: .connection, message: "cannot connect to \(parameters.displayName): \(message)")
            }
            return HandleBox(handle: handle)
        }
        return PGConnection(handle: box.handle, queue: queue, parameters: parameters)
    }

    /// True while the connection is usable; a failed one must be dropped and reopened.
    public func isHealthy() async -> Bool {
        let box = HandleBox(handle: handle)
        return (try? await queue.run { PQstatus(box.handle) == CONNECTION_OK }) ?? false
    }

    /// Runs one statement with bind parameters (text format); NULL parameters are nil.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) async throws -> PGRows {
        let box = HandleBox(handle: handle)
        return try await queue.run {
            try PGConnection.execute(box.handle, sql, parameters)
        }
    }

    private static func execute(_ handle: OpaquePointer, _ sql: String, _ parameters: [String?]) throws -> PGRows {
        let copies: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } }
        defer { copies.forEach { free($0) } }
        let result = copies.map { UnsafePointer($0) }.withUnsafeBufferPointer { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values.baseAddress, nil, nil, 0)
        }
        guard let result else {
            throw PostgresError(kind: .connection, message: errorMessage(handle))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            break
        default:
            let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? "unknown error"
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let kind: PostgresError.Kind = PQstatus(handle) == CONNECTION_OK ? .query : .connection
            throw PostgresError(kind: kind, message: message.trimmingCharacters(in: .whitespacesAndNewlines), sqlState: state)
        }
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<Int32(rowCount) {
            rows.append((0..<Int32(columnCount)).map { column in
                PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
            })
        }
        return PGRows(columns: columns, rows: rows)
    }

    private static func errorMessage(_ handle: OpaquePointer) -> String {
        PQerrorMessage(handle).map { String(cString: $0) }?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown error"
    }
}

/// Carries a libpq handle into the connection's queue; only that queue dereferences it.
private struct HandleBox: @unchecked Sendable {
    let handle: OpaquePointer
}

private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { copies.forEach { free($0) } }
    return copies.map { UnsafePointer($0) }.withUnsafeBufferPointer { body($0.baseAddress!) }
}
