import Foundation
import PostgresClient
import SyncCore

/// Repairs a logical subscriber from a check's differences: each listed key is made to match the
/// primary's current row (upserted when the primary has it, deleted when it does not), in batches
/// inside DR-side transactions. Re-running converges to the same state; the primary is only read.
struct PostgresReconciler {
    let source: String
    let config: SourceConfig

    func plan(from check: CheckResult) async throws -> ReconcilePlan {
        if check.error != nil || check.tables.contains(where: { $0.status == .error }) {
            throw SyncError.invalidState("the latest check of '\(source)' did not complete (\(check.error ?? check.tables.filter { $0.status == .error }.map { "\($0.table): \($0.reason ?? "error")" }.joined(separator: "; "))); run syncctl verify again")
        }
        let differing = check.missing + check.extra + check.changed
        guard !check.stoppedEarly, !check.diffsTruncated, Int64(check.unitDiffs.count) == differing else {
            throw SyncError.invalidState(
                "the latest check lists \(check.diffs.count) of at least \(differing) differences; run syncctl verify --source \(source) --full-diff --max-diffs \(max(differing, 1) * 2) so that every one can be planned")
        }
        let dr = try await connect(config.dr, side: .dr)
        var batches: [ReconcileBatch] = []
        for (id, diffs) in Dictionary(grouping: check.unitDiffs, by: \.table.byteKey).sorted(by: { $0.key < $1.key }) {
            let table = id.lossyString
            let sql = try await shape(table, on: dr)
            let ordered = diffs.sorted { $0.kind != .extra && $1.kind == .extra }
            for chunk in ordered.chunks(of: sql.batchRows) {
                let upserts = chunk.filter { $0.kind != .extra }.map(\.key)
                let deletes = chunk.filter { $0.kind == .extra }.map(\.key)
                var statements: [String] = []
                if !upserts.isEmpty { statements.append(try display(sql.upsert(rowCount: 1), rows: upserts.count, what: "rows read from the primary at apply time")) }
                if !deletes.isEmpty { statements.append(try display(sql.delete(keyCount: 1), rows: deletes.count, what: "keys")) }
                batches.append(ReconcileBatch(table: table, number: batches.filter { $0.table.sameBytes(as: table) }.count + 1,
                                              upsertKeys: upserts, deleteKeys: deletes, statements: statements))
            }
        }
        // Sequences last: each is moved up to the primary's position as it is at apply time, never down.
        for diff in check.diffs where diff.kind == .sequence {
            var batch = ReconcileBatch(table: diff.table, number: 1, upsertKeys: [], deleteKeys: [],
                                       statements: ["SELECT setval($1::regclass, $2::bigint, true)  -- the primary's last value, read at apply time"])
            batch.sequence = diff.table
            batches.append(batch)
        }
        return ReconcilePlan(source: source, basedOnCheck: check.finishedAt, batches: batches, notes: [
            "applied on the DR side only, one transaction per batch; each key is set to the primary's row as it is at apply time (deleted if the primary no longer has it)",
        ], words: .postgres)
    }

    /// A statement as it runs, shown with its first tuple and how many it repeats.
    private func display(_ statement: String, rows: Int, what: String) -> String {
        rows == 1 ? statement : "\(statement)  -- × \(rows) \(what)"
    }

    func apply(_ plan: ReconcilePlan) async throws -> ReconcileOutcome {
        let started = Date()
        let primary = try await connect(config.primary, side: .primary)
        let dr = try await connect(config.dr, side: .dr)
        for statement in CheckSession.settings { try await primary.query(statement); try await dr.query(statement) }
        // Like the subscription's own apply worker: no triggers or FK checks for replicated rows.
        // Needs superuser; without it the batches still run, with triggers.
        _ = try? await dr.query("SET session_replication_role = replica")
        var upserted = 0
        var deleted = 0
        var applied = 0
        // Keyed by the table name's bytes: two spellings of one name can be two tables.
        var touched: [ByteKey: [[String]]] = [:]
        var shapes: [ByteKey: TableSQL] = [:]
        var sequencesSet = 0
        var sequencesBehind = 0
        for batch in plan.batches {
            if let sequence = batch.sequence {
                switch try await setSequence(sequence, primary: primary, dr: dr) {
                case .set: sequencesSet += 1; applied += 1
                case .alreadyThere: break
                case .stillBehind: sequencesBehind += 1
                }
                continue
            }
            let sql: TableSQL
            if let known = shapes[batch.table.byteKey] { sql = known } else { sql = try await shape(batch.table, on: dr); shapes[batch.table.byteKey] = sql }
            let planned = try (batch.upsertKeys + batch.deleteKeys).map { try keyTexts($0, sql) }
            guard !planned.isEmpty else { continue }
            touched[batch.table.byteKey, default: []] += planned
            // Only keys that still differ are written: re-running a plan writes nothing twice.
            let keys = try await stillDiffering(planned, sql, primary: primary, dr: dr)
            guard !keys.isEmpty else { continue }

            try await primary.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            let current = try await primary.query(try sql.selectRows(keyCount: keys.count), keys.flatMap { $0.map { Optional($0) } })
            try await primary.query("COMMIT")
            let keyCount = sql.keys.count
            let present = Set(current.rows.map { row in row.prefix(keyCount).map { ($0 ?? "").byteKey } })
            let rows = current.rows.map { Array($0.dropFirst(keyCount)) }
            let gone = keys.filter { !present.contains($0.map(\.byteKey)) }

            try await dr.query("BEGIN")
            do {
                if !rows.isEmpty { try await dr.query(try sql.upsert(rowCount: rows.count), rows.flatMap { $0 }) }
                if !gone.isEmpty { try await dr.query(try sql.delete(keyCount: gone.count), gone.flatMap { $0.map { Optional($0) } }) }
                try await dr.query("COMMIT")
            } catch {
                _ = try? await dr.query("ROLLBACK")
                throw SyncError.failed("batch \(batch.number) of \(batch.table) failed and was rolled back (earlier batches stay applied; re-running converges): \(error)")
            }
            upserted += rows.count
            deleted += gone.count
            applied += 1
        }
        // Re-verify exactly what was touched.
        var stillDiffering = 0
        for (table, keys) in touched {
            guard let sql = shapes[table] else { continue }
            stillDiffering += try await self.stillDiffering(keys, sql, primary: primary, dr: dr).count
        }
        var outcome = ReconcileOutcome(source: source, batchesApplied: applied, rowsUpserted: upserted, rowsDeleted: deleted,
                                       stillDiffering: stillDiffering + sequencesBehind, durationSeconds: Date().timeIntervalSince(started))
        if plan.batches.contains(where: { $0.sequence != nil }) { outcome.sequencesSet = sequencesSet }
        return outcome
    }

    enum SequenceResult { case set, alreadyThere, stillBehind }

    /// Moves the DR sequence up to the primary's last value (never down: a DR that is ahead
    /// hands out no id the primary used).
    private func setSequence(_ name: String, primary: PGConnection, dr: PGConnection) async throws -> SequenceResult {
        func position(_ connection: PGConnection) async throws -> SequencePosition? {
            try await connection.query("SELECT \(SequencePosition.columns) FROM pg_sequences WHERE schemaname || '.' || sequencename = $1", [name])
                .rows.first.flatMap(SequencePosition.init)
        }
        guard let wanted = try await position(primary) else { return .alreadyThere }
        guard let current = try await position(dr) else {
            throw SyncError.invalidState("sequence \(name) does not exist on the DR side; create it (the schema) first")
        }
        guard current.isBehind(wanted) else { return .alreadyThere }
        try await dr.query("SELECT setval($1::regclass, $2::bigint, true)", [try SQLText.quoteQualified(name), String(wanted.value)])
        guard let after = try await position(dr), after.value == wanted.value else { return .stillBehind }
        return .set
    }

    /// The keys whose rows (or absence) differ between the sides right now.
    private func stillDiffering(_ keys: [[String]], _ sql: TableSQL, primary: PGConnection, dr: PGConnection) async throws -> [[String]] {
        try await sql.compareKeys(keys, primary: primary, dr: dr).filter { $0.difference != nil }.map(\.key)
    }

    private func connect(_ endpoint: EndpointConfig, side: Side) async throws -> PGConnection {
        try await PGConnection.connect(to: endpoint, side: side, applicationName: "syncd-reconcile:\(source)")
    }

    private func shape(_ table: String, on connection: PGConnection) async throws -> TableSQL {
        let parts = table.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw SyncError.failed("table name '\(table)' is not schema-qualified") }
        let columns = try await tableColumns(connection, schema: parts[0], table: parts[1])
        guard !columns.isEmpty else { throw SyncError.invalidState("table \(table) does not exist on the DR side; create it (the schema) first") }
        let sql = try TableSQL(schema: parts[0], table: parts[1], columns: columns)
        guard !sql.keys.isEmpty else { throw SyncError.invalidState("table \(table) has no primary key on the DR side") }
        return sql
    }

    /// A diff's JSON key back to the key columns' texts, in key order.
    private func keyTexts(_ key: JSONValue, _ sql: TableSQL) throws -> [String] {
        try sql.keys.map { column in
            switch key[column.name] {
            case let .number(value)?: return value.rounded() == value ? String(Int64(value)) : String(value)
            case let .string(value)?: return value
            default: throw SyncError.failed("a planned key of \(sql.displayName) has no value for key column \(column.name)")
            }
        }
    }
}
