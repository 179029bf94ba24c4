import Foundation
import PostgresClient
import SyncCore

/// One side of a check: its own connection, pinned session settings, and one consistent snapshot
/// (REPEATABLE READ READ ONLY, so a hot standby can be checked and nothing is ever written).
final class CheckSession: Sendable {
    let connection: PGConnection
    let side: Side
    /// The primary's WAL position when its snapshot was taken; nil on the DR side.
    let snapshotPosition: Int64?

    /// Settings that change how values print; pinned so both servers print equal values alike.
    static let settings = [
        "SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'", "SET IntervalStyle = 'iso_8601'",
        "SET extra_float_digits = 1", "SET bytea_output = 'hex'", "SET client_encoding = 'UTF8'",
        "SET statement_timeout = 0", "SET lock_timeout = '10s'",
        // Bucketed digests group by an expression the planner cannot estimate; room avoids spilling.
        "SET work_mem = '64MB'",
        // That estimate (one group per row) makes a large bucketed scan look costly enough to be
        // JIT-compiled with inlining: ~0.2 s of compiling for expressions that gain nothing from it.
        "SET jit = off",
    ]

    private init(connection: PGConnection, side: Side, snapshotPosition: Int64?) {
        self.connection = connection
        self.side = side
        self.snapshotPosition = snapshotPosition
    }

    static func open(_ endpoint: EndpointConfig, side: Side, source: String) async throws -> CheckSession {
        let connection = try await PGConnection.connect(to: endpoint, side: side, applicationName: "syncd-check:\(source)")
        for statement in settings { try await connection.query(statement) }
        try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        // The first statement takes the snapshot; on the primary it also tells where WAL stood then.
        let position = try await connection.query(side == .primary
            ? "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS pos"
            : "SELECT NULL::bigint AS pos").value(0, "pos").flatMap { Int64($0) }
        return CheckSession(connection: connection, side: side, snapshotPosition: position)
    }

    /// Another session of the same snapshot, for reading tables in parallel: the snapshot is
    /// exported here and imported there (`SET TRANSACTION SNAPSHOT`), so every session sees the
    /// same rows. Nil, with the server's words, where the server cannot export one.
    func sibling(_ endpoint: EndpointConfig, source: String) async throws -> CheckSession {
        let exported = try await connection.query("SELECT pg_export_snapshot() AS id").value(0, "id")
        guard let exported else { throw SyncError.failed("pg_export_snapshot() returned nothing") }
        let other = try await PGConnection.connect(to: endpoint, side: side, applicationName: "syncd-check:\(source)")
        for statement in Self.settings { try await other.query(statement) }
        try await other.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try await other.query("SET TRANSACTION SNAPSHOT \(try SQLText.quoteLiteral(exported))")
        return CheckSession(connection: other, side: side, snapshotPosition: snapshotPosition)
    }

    func close() async {
        _ = try? await connection.query("ROLLBACK")
    }
}

/// Adds up wall time per phase, for the result's notes.
struct PhaseClock {
    private var last = Date()
    private var totals: [(String, Double)] = []

    mutating func lap(_ phase: String) {
        let now = Date()
        if let index = totals.firstIndex(where: { $0.0 == phase }) {
            totals[index].1 += now.timeIntervalSince(last)
        } else {
            totals.append((phase, now.timeIntervalSince(last)))
        }
        last = now
    }

    var summary: String {
        totals.map { String(format: "%@ %.2f s", $0.0, $0.1) }.joined(separator: ", ")
    }
}

/// A range's row count and fingerprint, as one side computed it.
struct Digest: Equatable {
    var count: Int64
    /// XOR of the rows' 64-bit fingerprints.
    var fingerprint: Int64

    init(count: Int64, fingerprint: Int64) {
        self.count = count
        self.fingerprint = fingerprint
    }

    init(row: [String?]) {
        count = row.first.flatMap { $0.flatMap { Int64($0) } } ?? 0
        fingerprint = (row.count > 1 ? row[1] : nil).flatMap { Int64($0) } ?? 0
    }

    static let empty = Digest(count: 0, fingerprint: 0)

    /// The digest of this range together with a disjoint one (counts add, fingerprints XOR).
    func adding(_ other: Digest) -> Digest {
        Digest(count: count + other.count, fingerprint: fingerprint ^ other.fingerprint)
    }

    /// The digest of this range without a part of it.
    func excluding(_ part: Digest) -> Digest {
        Digest(count: count - part.count, fingerprint: fingerprint ^ part.fingerprint)
    }
}

/// A differing row found at a leaf; `key` is the primary key's canonical text per column.
struct RowDiff: Hashable {
    var key: [String]
    var kind: DiffKind

    // Key values compare as bytes (the database's COLLATE "C"), never as canonically equivalent strings.
    static func == (lhs: RowDiff, rhs: RowDiff) -> Bool { lhs.kind == rhs.kind && lhs.key.map(\.byteKey) == rhs.key.map(\.byteKey) }
    func hash(into hasher: inout Hasher) {
        hasher.combine(key.map(\.byteKey))
        hasher.combine(kind)
    }
}

/// Tuning of the bisection. Segments split into `fanout` parts until at most `leafRows` rows
/// remain, which are then compared row by row (key + hash only, never the row's content).
public struct BisectionPlan: Sendable, Equatable {
    public var fanout: Int
    public var leafRows: Int64

    public init(fanout: Int = 16, leafRows: Int64 = 2048) {
        self.fanout = max(2, fanout)
        self.leafRows = max(1, leafRows)
    }

    /// Binary-search bucketing makes a wide split as cheap as a narrow one.
    public static func forTable(_ sql: TableSQL) -> BisectionPlan {
        sql.bucketsByBinarySearch ? BisectionPlan(fanout: 256) : BisectionPlan(fanout: 16)
    }

    /// Sampling step so that a range of `rows` rows yields about `fanout` sub-ranges.
    public func step(forRows rows: Int64) -> Int {
        Int(max(1, (rows + Int64(fanout) - 1) / Int64(fanout)))
    }

    public func isLeaf(primaryRows: Int64, drRows: Int64) -> Bool {
        max(primaryRows, drRows) <= leafRows
    }
}

/// A PostgreSQL text[] literal for a bind parameter.
func postgresArray(_ values: [String]) -> String {
    "{" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        .joined(separator: ",") + "}"
}

/// Columns of the tables `filter` selects, in schema, table and column order: each with its
/// schema and table, its types and primary-key position.
private func columnRows(_ connection: PGConnection, where filter: String, _ parameters: [String?] = []) async throws -> [(String, String, ColumnInfo)] {
    let rows = try await connection.query("""
        SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), t.typname, t.typcategory::text,
               array_position(i.indkey::int2[], a.attnum), (a.attgenerated <> '')::text
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
        WHERE a.attnum > 0 AND NOT a.attisdropped AND \(filter)
        ORDER BY n.nspname, c.relname, a.attnum
        """, parameters)
    return rows.rows.compactMap { row in
        guard let schema = row[0], let table = row[1] else { return nil }
        return (schema, table, ColumnInfo(name: row[2] ?? "", type: row[3] ?? "text", typeName: row[4] ?? "text", category: row[5] ?? "X",
                                          keyPosition: row[6].flatMap { Int($0) }, generated: row[7] == "true"))
    }
}

/// Every user table's columns in one query, keyed by the schema's and table's bytes: a database
/// of many tables is one round trip per side, not two per table.
func allTableColumns(_ connection: PGConnection) async throws -> [ByteKey: [ColumnInfo]] {
    let rows = try await columnRows(connection, where: """
        c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
        """)
    var columns: [ByteKey: [ColumnInfo]] = [:]
    for (schema, table, column) in rows { columns[tableKey(schema, table), default: []].append(column) }
    return columns
}

/// A table's identity as bytes: schema, a NUL (never in a name), table.
func tableKey(_ schema: String, _ table: String) -> ByteKey {
    ByteKey(Array(schema.utf8) + [0] + Array(table.utf8))
}

/// A table's columns in order, with their types and primary-key positions; empty if there is no such table.
func tableColumns(_ connection: PGConnection, schema: String, table: String) async throws -> [ColumnInfo] {
    try await columnRows(connection, where: "n.nspname = $1 AND c.relname = $2", [schema, table]).map(\.2)
}

