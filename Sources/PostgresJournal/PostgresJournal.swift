import Foundation
import PostgresClient
import SyncCore

/// The audit journal in a PostgreSQL database that several syncd instances share: the same entries
/// and one hash chain across them. Appends are serialised in the database (a transaction-scoped
/// advisory lock), so two instances never link to the same previous entry. The connection is
/// reopened on the next call after it fails: a journal database that comes back needs no restart.
public final class PostgresJournal: JournalStore, Sendable {
    public let location: String
    private let link: JournalLink

    /// The schema version this build writes; older schemas are migrated at start.
    public static let schemaVersion = 2
    /// The advisory lock every writer takes (an arbitrary constant: "syncd" in ASCII).
    static let appendLock = "495958516580"

    public init(endpoint: EndpointConfig, sslmode: String?) {
        var endpoint = endpoint
        endpoint.sslmode = sslmode
        location = JournalLocation.postgres(endpoint, sslmode: sslmode).description
        link = JournalLink(parameters: PGConnectionParameters(endpoint: endpoint, applicationName: "syncd-journal"))
    }

    /// Creates or migrates the schema (versioned); safe to run from several instances at once.
    public func prepare() async throws {
        try await link.exclusive { connection in
            try await connection.query("BEGIN")
            do {
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.appendLock))")
                try await connection.query("CREATE TABLE IF NOT EXISTS syncd_schema (version integer NOT NULL)")
                let current = Int(try await connection.query("SELECT max(version) AS version FROM syncd_schema").value(0, "version") ?? "") ?? 0
                guard current <= Self.schemaVersion else {
                    throw JournalError(message: "journal \(self.location): schema version \(current) is newer than this syncd (\(Self.schemaVersion)); upgrade syncd")
                }
                for (version, statements) in [(1, Self.version1), (2, Self.version2)] where current < version {
                    for statement in statements { try await connection.query(statement) }
                    try await connection.query("INSERT INTO syncd_schema (version) VALUES ($1::integer)", [String(version)])
                }
                try await connection.query("COMMIT")
            } catch {
                try? await connection.query("ROLLBACK")
                throw error
            }
        }
    }

    static let version1 = [
        """
        CREATE TABLE IF NOT EXISTS journal (
            id bigserial PRIMARY KEY,
            time double precision NOT NULL,
            kind text NOT NULL,
            source text,
            actor text NOT NULL,
            action text NOT NULL,
            outcome text NOT NULL,
            detail text,
            prev_hash text NOT NULL,
            hash text NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS journal_kind_source_id ON journal (kind, source, id)",
        "CREATE INDEX IF NOT EXISTS journal_kind_id ON journal (kind, id)",
        "CREATE INDEX IF NOT EXISTS journal_source_id ON journal (source, id)",
        "CREATE INDEX IF NOT EXISTS journal_time ON journal (time)",
    ]

    /// The leader lease (one row) and every instance's heartbeat.
    static let version2 = [
        """
        CREATE TABLE IF NOT EXISTS syncd_lease (
            name text PRIMARY KEY,
            holder text NOT NULL,
            holder_url text,
            token bigint NOT NULL,
            expires_at timestamptz NOT NULL
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS syncd_instances (
            id text PRIMARY KEY,
            site text NOT NULL,
            url text,
            role text NOT NULL,
            last_heartbeat timestamptz NOT NULL
        )
        """,
    ]

    @discardableResult
    public func append(kind: String, source: String?, actor: String, action: String, outcome: String,
                       detail: JSONValue?, at time: Date) async throws -> JournalEntry {
        let fields = try JournalChain.Fields(time: time, kind: kind, source: source, actor: actor, action: action, outcome: outcome, detail: detail)
        let id = try await link.exclusive { connection in
            try await Self.transaction(connection) { try await Self.appendChained(connection, fields) }
        }
        return JournalEntry(id: id, time: time, kind: kind, source: source, actor: actor, action: action, outcome: outcome, detail: detail)
    }

    /// Inside a transaction: takes the append lock, then links to the newest entry.
    static func appendChained(_ connection: PGConnection, _ fields: JournalChain.Fields, after head: String? = nil) async throws -> Int64 {
        try await connection.query("SELECT pg_advisory_xact_lock(\(appendLock))")
        let previous: String
        if let head { previous = head } else { previous = try await headHash(connection) }
        let rows = try await connection.query("""
            INSERT INTO journal (time, kind, source, actor, action, outcome, detail, prev_hash, hash)
            VALUES ($1::double precision, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
            """, [String(fields.time), fields.kind, fields.source, fields.actor, fields.action, fields.outcome, fields.detail,
                  previous, JournalChain.hash(previous: previous, fields)])
        guard let text = rows.value(0, "id"), let id = Int64(text) else { throw JournalError(message: "journal write returned no id") }
        return id
    }

    /// How many entries the journal holds.
    public func count() async throws -> Int {
        try await link.exclusive { connection in
            Int(try await connection.query("SELECT count(*) AS n FROM journal").value(0, "n") ?? "") ?? 0
        }
    }

    /// Appends entries moved from another journal, in their order and with their times, chained
    /// here anew; one transaction, so a failed move leaves nothing half-copied.
    public func importEntries(_ entries: [JournalEntry]) async throws {
        let fields = try entries.map { entry in
            try JournalChain.Fields(time: entry.time, kind: entry.kind, source: entry.source, actor: entry.actor, action: entry.action,
                                    outcome: entry.outcome, detail: entry.detail)
        }
        try await link.exclusive { connection in
            try await Self.transaction(connection) {
                for entry in fields { _ = try await Self.appendChained(connection, entry) }
            }
        }
    }

    static func headHash(_ connection: PGConnection) async throws -> String {
        try await connection.query("SELECT hash FROM journal ORDER BY id DESC LIMIT 1").value(0, "hash") ?? JournalChain.genesis
    }

    static func transaction<T: Sendable>(_ connection: PGConnection, _ body: () async throws -> T) async throws -> T {
        try await connection.query("BEGIN")
        do {
            let result = try await body()
            try await connection.query("COMMIT")
            return result
        } catch {
            try? await connection.query("ROLLBACK")
            throw error
        }
    }

    /// Only the filters given, so the (kind, source, id) indexes answer "the latest check" with a probe.
    static func recentQuery(limit: Int, source: String?, kind: String?) -> (String, [String?]) {
        var parameters: [String?] = [String(max(1, limit))]
        var filters: [String] = []
        for (column, value) in [("source", source), ("kind", kind)] {
            guard let value else { continue }
            parameters.append(value)
            filters.append("\(column) = $\(parameters.count)")
        }
        let sql = "SELECT id, time, kind, source, actor, action, outcome, detail FROM journal "
            + (filters.isEmpty ? "" : "WHERE " + filters.joined(separator: " AND ") + " ") + "ORDER BY id DESC LIMIT $1"
        return (sql, parameters)
    }

    public func recent(limit: Int, source: String?, kind: String?) async throws -> [JournalEntry] {
        let (sql, parameters) = Self.recentQuery(limit: limit, source: source, kind: kind)
        let rows = try await link.exclusive { connection in try await connection.query(sql, parameters) }
        return rows.rows.compactMap { row in
            guard let id = row[0].flatMap({ Int64($0) }), let time = row[1].flatMap({ Double($0) }) else { return nil }
            let detail = row[7].flatMap { try? JSONCoding.decoder.decode(JSONValue.self, from: Data($0.utf8)) }
            return JournalEntry(id: id, time: Date(timeIntervalSince1970: time), kind: row[2] ?? "", source: row[3],
                                actor: row[4] ?? "", action: row[5] ?? "", outcome: row[6] ?? "", detail: detail)
        }
    }

    /// The newest prune checkpoint, if entries were ever pruned.
    static func latestCheckpoint(_ connection: PGConnection) async throws -> (Int64, JournalChain.Checkpoint)? {
        let rows = try await connection.query("SELECT id, detail FROM journal WHERE kind = 'service' AND action = $1 ORDER BY id DESC LIMIT 1",
                                              [JournalChain.pruneAction])
        guard let idText = rows.value(0, "id"), let id = Int64(idText), let detail = rows.value(0, "detail") else { return nil }
        guard let checkpoint = try? JSONCoding.typedDecoder.decode(JournalChain.Checkpoint.self, from: Data(detail.utf8)) else {
            throw JournalError(message: "journal: the prune checkpoint \(id) cannot be read")
        }
        return (id, checkpoint)
    }

    public func verifyChain() async throws -> JournalVerification {
        try await link.exclusive { connection in
            // One snapshot: appends by other instances during the walk do not shift what is checked.
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            do {
                let verification = try await Self.walk(connection)
                try await connection.query("COMMIT")
                return verification
            } catch {
                try? await connection.query("ROLLBACK")
                throw error
            }
        }
    }

    static func walk(_ connection: PGConnection) async throws -> JournalVerification {
        let found: (Int64, JournalChain.Checkpoint)?
        do {
            found = try await latestCheckpoint(connection)
        } catch let error as JournalError {
            return JournalVerification(ok: false, entries: 0, headHash: JournalChain.genesis, headEntry: nil, problem: error.message)
        }
        var verifier = JournalChainVerifier(checkpoint: found?.1, checkpointEntry: found?.0)
        var after: Int64 = 0
        page: while true {
            let rows = try await connection.query("""
                SELECT id, time, kind, source, actor, action, outcome, detail, prev_hash, hash FROM journal
                WHERE id > $1 ORDER BY id LIMIT 5000
                """, [String(after)])
            if rows.count == 0 { break }
            for row in rows.rows {
                guard let id = row[0].flatMap({ Int64($0) }), let time = row[1].flatMap({ Double($0) }) else { continue }
                after = id
                let fields = JournalChain.Fields(time: time, kind: row[2] ?? "", source: row[3], actor: row[4] ?? "", action: row[5] ?? "",
                                                 outcome: row[6] ?? "", detail: row[7])
                if !verifier.add(.init(id: id, fields: fields, prevHash: row[8], hash: row[9])) { break page }
            }
        }
        return verifier.finish()
    }

    public func prune(olderThan cutoff: Date, keepKinds: Set<String>, actor: String) async throws -> JournalChain.Checkpoint? {
        let keep = keepKinds.sorted()
        return try await link.exclusive { connection in
            try await Self.transaction(connection) { () async throws -> JournalChain.Checkpoint? in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.appendLock))")
                let previous = try await Self.latestCheckpoint(connection)?.1
                let floor = previous?.throughEntry ?? 0
                let last = try await connection.query("SELECT id, hash FROM journal WHERE time < $1::double precision AND id > $2 ORDER BY id DESC LIMIT 1",
                                                      [String(cutoff.timeIntervalSince1970), String(floor)])
                guard let throughText = last.value(0, "id"), let throughEntry = Int64(throughText), let throughHash = last.value(0, "hash") else { return nil }
                let head = try await Self.headHash(connection)
                // Kinds travel as one array parameter: no SQL is built from values.
                let kinds = "{" + keep.map { "\"\($0)\"" }.joined(separator: ",") + "}"
                var kept = previous?.kept ?? []
                let keptRows = try await connection.query("SELECT id, hash FROM journal WHERE id > $1 AND id <= $2 AND kind = ANY($3::text[]) ORDER BY id",
                                                          [String(floor), String(throughEntry), kinds])
                for row in keptRows.rows {
                    if let id = row[0].flatMap({ Int64($0) }) { kept.append(.init(id: id, hash: row[1] ?? "")) }
                }
                let deleted = try await connection.query("""
                    WITH gone AS (DELETE FROM journal WHERE id > $1 AND id <= $2 AND NOT (kind = ANY($3::text[])) RETURNING 1)
                    SELECT count(*) AS pruned FROM gone
                    """, [String(floor), String(throughEntry), kinds])
                let pruned = Int(deleted.value(0, "pruned") ?? "") ?? 0
                let checkpoint = JournalChain.Checkpoint(throughEntry: throughEntry, throughHash: throughHash, pruned: pruned + (previous?.pruned ?? 0),
                                                         olderThan: cutoff, kept: kept)
                let detail = String(decoding: try JSONCoding.encoder.encode(checkpoint), as: UTF8.self)
                _ = try await Self.appendChained(connection, JournalChain.Fields(time: Date().timeIntervalSince1970, kind: "service", source: nil,
                                                                                 actor: actor, action: JournalChain.pruneAction, outcome: "ok",
                                                                                 detail: detail), after: head)
                return checkpoint
            }
        }
    }
}

/// The journal's one connection, used by one caller at a time (a transaction spans several calls),
/// opened on first use and again after it failed.
actor JournalLink {
    let parameters: PGConnectionParameters
    private var connection: PGConnection?
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(parameters: PGConnectionParameters) {
        self.parameters = parameters
    }

    func exclusive<T: Sendable>(_ body: @Sendable (PGConnection) async throws -> T) async throws -> T {
        while busy { await withCheckedContinuation { waiters.append($0) } }
        busy = true
        defer {
            busy = false
            if !waiters.isEmpty { waiters.removeFirst().resume() }
        }
        let current: PGConnection
        if let connection, await connection.isHealthy() {
            current = connection
        } else {
            connection = nil
            do {
                current = try await PGConnection.connect(parameters)
            } catch {
                throw JournalError(message: "the journal database \(parameters.displayName) is unreachable: \(error)")
            }
            connection = current
        }
        do {
            return try await body(current)
        } catch {
            // A broken connection is reopened by the next call; a statement error leaves it usable.
            if await !current.isHealthy() { connection = nil }
            throw error
        }
    }
}
