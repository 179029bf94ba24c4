import Foundation
import PostgresClient
import SyncCore

/// Compares the tables of a PostgreSQL pair (`CheckEngine` runs the rounds): whole-table digests
/// first (one scan per side, in parallel), then bisection of unequal tables down to the differing
/// keys, then re-checks of the differing keys after the DR side caught up, so in-flight writes are
/// not reported.
struct PostgresChecker: CheckStrategy {
    let source: String
    let config: SourceConfig
    let options: CheckOptions
    /// Waits until the DR side has applied the primary's WAL up to a position.
    let waitUntilApplied: @Sendable (Int64, Duration) async throws -> Void
    /// Tables (by quoted qualified name) whose digests differed at this source's previous check:
    /// pass 1 digests them in key buckets at once. A table that differed tends to differ again
    /// (rows in flight on a busy table, a DR copy not yet repaired), and then the buckets save the
    /// bisection a second full scan; an equal table would pay for the grouping, so only these do.
    let differedLastTime: Set<ByteKey>

    struct TableState {
        var sql: TableSQL
        var primary: Digest = .empty
        var dr: Digest = .empty
        /// Time spent on this table, over every pass and round.
        var seconds: Double = 0
        var segments = 0
        var diffs: [RowDiff] = []
        var bisected = false
        /// The quick fingerprints missed a difference: the table was narrowed again with full ones.
        var relocalised = false
        var status: TableCheckStatus = .equal
        var reason: String?
        /// Pass 1 digested the table in key buckets (full fingerprints): the unequal ones, where
        /// bisection starts instead of at the whole table.
        var firstSplit: [(KeyRange, Digest, Digest)]?
    }

    var primarySession: CheckSession?
    var drSession: CheckSession?
    var states: [TableState] = []
    /// Tables that cannot be compared (no primary key); listed after the others.
    var skipped: [TableCheckResult] = []
    var ownNotes: [String] = []
    var clock = PhaseClock()
    var phase = "bisection"

    init(source: String, config: SourceConfig, options: CheckOptions, differedLastTime: Set<ByteKey> = [],
         waitUntilApplied: @escaping @Sendable (Int64, Duration) async throws -> Void) {
        self.source = source
        self.config = config
        self.options = options
        self.differedLastTime = differedLastTime
        self.waitUntilApplied = waitUntilApplied
    }

    /// The tables whose digests differed (bisected) and those found equal, by quoted qualified
    /// name: what the next check's `differedLastTime` is made of.
    var digestOutcomes: (differed: [ByteKey], equal: [ByteKey]) {
        (states.filter { $0.status == .different }.map { $0.sql.qualified.byteKey },
         states.filter { $0.status == .equal }.map { $0.sql.qualified.byteKey })
    }

    var words: SourceWords { .postgres }

    func sessions() throws -> (CheckSession, CheckSession) {
        guard let primarySession, let drSession else { throw SyncError.failed("the check's sessions are not open") }
        return (primarySession, drSession)
    }

    /// Opens a snapshot on each side, finds the tables and takes both sides' whole-table digests.
    mutating func prepare(_ reporter: CheckReporter) async throws -> [String] {
        primarySession = try await CheckSession.open(config.primary, side: .primary, source: source)
        drSession = try await CheckSession.open(config.dr, side: .dr, source: source)
        let (primary, dr) = try sessions()
        let ruleNotes: [String]
        (states, skipped, ruleNotes) = try await discover(primary: primary, dr: dr)
        ownNotes += ruleNotes
        clock.lap("finding the tables")
        let labels = states.map(\.sql.displayName) + skipped.map(\.table)
        // Round 1, pass 1: whole-table digests, both sides at once, and several tables at once
        // over sessions sharing each side's snapshot.
        let lanes = try await parallelSessions(primary: primary, dr: dr)
        let checker = self
        let results = try await withThrowingTaskGroup(of: [(Int, TableState)].self) { group in
            for (lane, (primary, dr)) in lanes.enumerated() {
                let indices = Array(stride(from: lane, to: states.count, by: lanes.count))
                let mine = indices.map { states[$0] }
                group.addTask {
                    var done: [(Int, TableState)] = []
                    for (index, var state) in zip(indices, mine) {
                        try await checker.firstPass(&state, primary: primary, dr: dr, reporter: reporter)
                        done.append((index, state))
                    }
                    return done
                }
            }
            var all: [(Int, TableState)] = []
            for try await part in group { all += part }
            return all
        }
        for (index, state) in results { states[index] = state }
        for state in states where state.firstSplit != nil {
            ownNotes.append("\(state.sql.displayName): differed at the previous check, so pass 1 digested it in \(state.segments) key buckets (no second full scan to bisect it)")
        }
        for (lane, sessions) in lanes.enumerated() where lane > 0 {
            await sessions.0.close()
            await sessions.1.close()
        }
        clock.lap("whole-table digests")
        return labels
    }

    /// The pass-1 lanes: the check's own two sessions, plus up to `check_concurrency` - 1 pairs
    /// importing their snapshots. A side that cannot export its snapshot keeps to one lane, said in
    /// the notes (the rows must come from one snapshot per side, or the digests could disagree).
    mutating func parallelSessions(primary: CheckSession, dr: CheckSession) async throws -> [(CheckSession, CheckSession)] {
        let wanted = min(config.postgres?.checkConcurrency ?? PostgresOptions.defaultCheckConcurrency, states.count)
        var lanes = [(primary, dr)]
        guard wanted > 1 else { return lanes }
        do {
            for _ in 1..<wanted {
                let extraPrimary = try await primary.sibling(config.primary, source: source)
                do {
                    lanes.append((extraPrimary, try await dr.sibling(config.dr, source: source)))
                } catch {
                    await extraPrimary.close()
                    throw error
                }
            }
        } catch {
            ownNotes.append("tables were digested one after another: a snapshot could not be shared with more sessions (\(error))")
            for (lane, sessions) in lanes.enumerated() where lane > 0 {
                await sessions.0.close()
                await sessions.1.close()
            }
            return [(primary, dr)]
        }
        return lanes
    }

    var primaryItems: Int64 { states.reduce(Int64(0)) { $0 + $1.primary.count } }

    /// Equal digests, a table missing on the DR side, or no primary key: pass 1 said all there is.
    func isSettled(_ scope: Int) -> Bool { scope >= states.count || states[scope].status != .different }

    /// Round 1, pass 2: bisects an unequal table down to keys; with a budget it stops (leaving
    /// `bisected` false) once a pass is impossible.
    mutating func compare(_ scope: Int, budget: Int64?, reporter: CheckReporter) async throws -> Bool {
        guard scope < states.count, states[scope].status == .different else { return false }
        let (primary, dr) = try sessions()
        let tableStarted = Date()
        try await bisect(&states[scope], primary: primary, dr: dr, budget: budget)
        states[scope].seconds += Date().timeIntervalSince(tableStarted)
        if states[scope].relocalised {
            ownNotes.append("\(states[scope].sql.displayName): a difference the quick fingerprints cannot see (e.g. a sign or -0); narrowed again with full fingerprints")
        }
        return !states[scope].bisected
    }

    func budgetUsed(_ scope: Int) -> Int64 { scope < states.count ? Int64(states[scope].diffs.count) : 0 }

    func needsRecheck(_ scope: Int) -> Bool { scope < states.count && !states[scope].diffs.isEmpty }

    /// The DR snapshot is taken only once the DR side has applied everything the primary's new
    /// snapshot holds, so rows still in flight cannot show up as differences.
    mutating func catchUp(before round: Int, timeout: Duration) async throws -> CatchUpOutcome {
        clock.lap(phase)
        phase = "re-checks"
        await primarySession?.close()
        await drSession?.close()
        primarySession = try await CheckSession.open(config.primary, side: .primary, source: source)
        var outcome = CatchUpOutcome.caughtUp
        do {
            try await waitUntilApplied(primarySession?.snapshotPosition ?? 0, timeout)
            clock.lap("waiting for the DR side to catch up")
        } catch let error as SyncError {
            // A paused or stalled DR side cannot catch up: what differs now is the answer.
            outcome = .cannotProgress("\(error)")
        }
        drSession = try await CheckSession.open(config.dr, side: .dr, source: source)
        return outcome
    }

    mutating func recheck(_ scope: Int, round: Int, reporter: CheckReporter) async throws {
        let (primary, dr) = try sessions()
        let tableStarted = Date()
        try await recheck(&states[scope], primary: primary, dr: dr)
        states[scope].seconds += Date().timeIntervalSince(tableStarted)
    }

    func notes(rounds: Int) -> [String] {
        var clock = self.clock
        clock.lap(phase)
        return ownNotes + ["time spent: " + clock.summary]
    }

    mutating func close() async {
        await primarySession?.close()
        await drSession?.close()
        primarySession = nil
        drSession = nil
    }

    // MARK: discovery

    /// The tables to check, those skipped, and what table_rules declared for them.
    func discover(primary: CheckSession, dr: CheckSession) async throws -> ([TableState], [TableCheckResult], [String]) {
        // Row hashes are taken over the database's own bytes: both sides must encode text alike.
        let encodings = try await (primary.connection.query("SHOW server_encoding"), dr.connection.query("SHOW server_encoding"))
        let (primaryEncoding, drEncoding) = (encodings.0.rows.first?.first ?? nil, encodings.1.rows.first?.first ?? nil)
        guard primaryEncoding == drEncoding else {
            throw SyncError.invalidState("the servers' encodings differ (primary \(primaryEncoding ?? "?"), DR \(drEncoding ?? "?")): rows cannot be compared byte for byte")
        }
        let names = try await tableNames(primary)
        var states: [TableState] = []
        var skipped: [TableCheckResult] = []
        let rules = (config.postgres ?? PostgresOptions()).tableRules
        var ruleNotes: [String] = []
        async let primaryCatalog = allTableColumns(primary.connection)
        async let drCatalog = allTableColumns(dr.connection)
        let (primaryTables, drTables) = try await (primaryCatalog, drCatalog)
        for (schema, table) in names {
            var primaryColumns = primaryTables[tableKey(schema, table)] ?? []
            var drColumns = drTables[tableKey(schema, table)] ?? []
            var rowFilter: String?
            if let rule = rules.first(where: { $0.table.sameBytes(as: "\(schema).\(table)") }) {
                let ruled = try rule.apply(to: primaryColumns)
                primaryColumns = ruled.columns
                drColumns = try rule.apply(to: drColumns, validate: false).columns
                if let note = ruled.note { ruleNotes.append(note) }
                if let filter = rule.rowFilter {
                    // The operator's filter must parse and plan on both sides; it is never run alone.
                    let probe = "EXPLAIN SELECT 1 FROM \(try SQLText.quoteIdentifier(schema)).\(try SQLText.quoteIdentifier(table)) WHERE \(filter)"
                    for (session, side) in [(primary, "primary"), (dr, "DR side")] {
                        do {
                            try await session.connection.query(probe)
                        } catch {
                            throw SyncError.invalidState("table_rules.\(schema).\(table).where does not plan on the \(side): \(error)")
                        }
                    }
                    rowFilter = filter
                }
            }
            let sql = try TableSQL(schema: schema, table: table, columns: primaryColumns, rowFilter: rowFilter)
            if sql.keys.isEmpty {
                skipped.append(TableCheckResult(table: sql.displayName, status: .skipped,
                                                reason: "no primary key: rows cannot be matched between the sides"))
                continue
            }
            var state = TableState(sql: sql)
            if drColumns.isEmpty {
                state.status = .error
                state.reason = "the table does not exist on the DR side"
            } else if let mismatch = schemaMismatch(primaryColumns, drColumns) {
                state.status = .error
                state.reason = "the DR side's columns differ: \(mismatch)"
            }
            states.append(state)
        }
        return (states, skipped, ruleNotes)
    }

    /// The configured schemas' tables, or the listed ones: `schema.table` anywhere, `table` in the configured schemas.
    func tableNames(_ session: CheckSession) async throws -> [(String, String)] {
        let postgres = config.postgres ?? PostgresOptions()
        let rows = try await session.connection.query("""
            SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
            ORDER BY 1, 2
            """)
        // Names are identities: matched as their bytes. The heartbeat table differs by design
        // (the primary's row is always newer) and is not data.
        let heartbeat = postgres.heartbeatTable.map { $0.contains(".") ? $0 : "public.\($0)" }
        let all = rows.rows.compactMap { row -> (String, String)? in
            guard let schema = row[0], let table = row[1] else { return nil }
            if let heartbeat, heartbeat.sameBytes(as: "\(schema).\(table)") { return nil }
            return (schema, table)
        }
        func inSchemas(_ schema: String) -> Bool { postgres.schemas.contains { $0.sameBytes(as: schema) } }
        guard let wanted = options.tables ?? postgres.tables else {
            return all.filter { inSchemas($0.0) }
        }
        var selected: [(String, String)] = []
        for name in wanted {
            let matches = all.filter { name.sameBytes(as: "\($0.0).\($0.1)") || (!name.contains(".") && name.sameBytes(as: $0.1) && inSchemas($0.0)) }
            guard !matches.isEmpty else {
                throw SyncError.invalidState("table '\(name)' was not found on the primary (unqualified names are looked up in schemas \(postgres.schemas.joined(separator: ", ")))")
            }
            selected += matches.filter { match in !selected.contains { $0.0.sameBytes(as: match.0) && $0.1.sameBytes(as: match.1) } }
        }
        return selected
    }

    func schemaMismatch(_ primary: [ColumnInfo], _ dr: [ColumnInfo]) -> String? {
        var problems: [String] = []
        for column in primary {
            guard let other = dr.first(where: { $0.name == column.name }) else {
                problems.append("column \(column.name) is missing")
                continue
            }
            if !column.comparable(with: other) { problems.append("column \(column.name) is \(other.type), not \(column.type)") }
        }
        for column in dr where !primary.contains(where: { $0.name == column.name }) {
            problems.append("extra column \(column.name)")
        }
        return problems.isEmpty ? nil : problems.joined(separator: ", ")
    }

    // MARK: bisection

    /// Narrows unequal ranges down to leaves and compares those row by row. With a budget, stops
    /// once more rows differ than a pass allows. Ranges are narrowed with quick fingerprints; the
    /// leaves' full fingerprints must then account for the whole-table difference (what lies
    /// outside the leaves is equal on both sides), or the table is narrowed again with full ones.
    func bisect(_ state: inout TableState, primary: CheckSession, dr: CheckSession, budget: Int64?) async throws {
        guard let leaves = try await localise(&state, full: false, primary: primary, dr: dr, budget: budget) else { return }
        if state.primary.excluding(leaves.primary) != state.dr.excluding(leaves.dr) {
            state.diffs = []
            state.relocalised = true
            guard try await localise(&state, full: true, primary: primary, dr: dr, budget: budget) != nil else { return }
        }
        state.bisected = true
    }

    /// One bisection of the whole table; the full-fingerprint digests of every leaf compared, or nil
    /// when the budget stopped it.
    func localise(_ state: inout TableState, full: Bool, primary: CheckSession, dr: CheckSession, budget: Int64?) async throws -> (primary: Digest, dr: Digest)? {
        // Buckets pass 1 found unequal by full fingerprints: everything outside them is equal.
        var queue: [(KeyRange, Digest, Digest)] = state.firstSplit ?? [(.all, state.primary, state.dr)]
        var leaves: [KeyRange] = []
        var compared = (primary: Digest.empty, dr: Digest.empty)
        while !queue.isEmpty || !leaves.isEmpty {
            if let budget, Int64(state.diffs.count) > budget { return nil }
            // Leaves are compared many to a query: one round trip per side for a batch of them.
            if queue.isEmpty || leaves.count >= Self.leavesPerQuery {
                let batch = Array(leaves.prefix(Self.leavesPerQuery))
                leaves.removeFirst(batch.count)
                let leaf = try await compareRows(state.sql, batch, primary: primary, dr: dr)
                state.diffs += leaf.diffs
                compared = (compared.primary.adding(leaf.primary), compared.dr.adding(leaf.dr))
                continue
            }
            let (range, primaryDigest, drDigest) = queue.removeFirst()
            if BisectionPlan.forTable(state.sql).isLeaf(primaryRows: primaryDigest.count, drRows: drDigest.count) {
                leaves.append(range)
                continue
            }
            // A whole table with a single integer key splits by arithmetic on the key.
            if range == .all, let split = try await integerBuckets(state.sql, primary: primary, dr: dr) {
                let (sql, parameters) = try state.sql.bucketDigests(split, full: full)
                queue += try await unequalBuckets(sql, parameters, &state, primary: primary, dr: dr, range: split.range(ofBucket:))
                continue
            }
            // Otherwise split points are real key values. For a whole large table, a row sample of
            // the primary gives a wide first split cheaply; otherwise every n-th key of the larger side.
            var boundaries: [[String]] = []
            if range == .all, state.sql.bucketsByBinarySearch {
                boundaries = try await sampledBounds(state.sql, primary, rows: primaryDigest.count)
            }
            if boundaries.isEmpty {
                let larger = primaryDigest.count >= drDigest.count ? primary : dr
                let step = BisectionPlan.forTable(state.sql).step(forRows: max(primaryDigest.count, drDigest.count))
                let (sampleSQL, sampleParameters) = try state.sql.sampleKeys(range, step: step)
                boundaries = try await larger.connection.query(sampleSQL, sampleParameters).rows
                    .map { $0.map { $0 ?? "" } }
                    .filter { $0 != range.lower }
            }
            guard !boundaries.isEmpty else {
                // Cannot split further (a single key): compare the rows.
                leaves.append(range)
                continue
            }
            let (sql, parameters) = try state.sql.bucketDigests(range, boundaries: boundaries, full: full)
            queue += try await unequalBuckets(sql, parameters, &state, primary: primary, dr: dr) { bucket in
                KeyRange(lower: bucket == 0 ? range.lower : boundaries[bucket - 1],
                         upper: bucket == boundaries.count ? range.upper : boundaries[bucket])
            }
        }
        return compared
    }

    /// Leaf ranges compared in one query per side.
    static let leavesPerQuery = 64

    /// Pass 1 for one table: both sides' whole-table digests, at once.
    /// Pass 1 of one table: its whole-table digest on both sides at once.
    func firstPass(_ state: inout TableState, primary: CheckSession, dr: CheckSession, reporter: CheckReporter) async throws {
        let at = reporter.at(state.sql.displayName)
        at.announce()
        if state.status == .error {
            // Nothing to compare against, but the primary's rows still count (as missing when the table is).
            let (sql, parameters) = try state.sql.digest(.all)
            state.primary = Digest(row: try await primary.connection.query(sql, parameters).rows.first ?? [])
            return
        }
        let tableStarted = Date()
        try await firstPass(&state, primary: primary, dr: dr)
        state.seconds += Date().timeIntervalSince(tableStarted)
        at.compared(state.primary.count + state.dr.count)
    }

    func firstPass(_ state: inout TableState, primary: CheckSession, dr: CheckSession) async throws {
        if differedLastTime.contains(state.sql.qualified.byteKey), let split = try await integerBuckets(state.sql, primary: primary, dr: dr) {
            let (sql, parameters) = try state.sql.bucketDigests(split, full: true)
            let (primaryBuckets, drBuckets) = try await bucketDigests(sql, parameters, primary: primary, dr: dr)
            state.primary = primaryBuckets.values.reduce(Digest.empty) { $0.adding($1) }
            state.dr = drBuckets.values.reduce(Digest.empty) { $0.adding($1) }
            let (segments, unequal) = Self.unequal(primaryBuckets, drBuckets, range: split.range(ofBucket:))
            state.segments = segments
            state.firstSplit = unequal
            if !unequal.isEmpty || state.primary != state.dr { state.status = .different }
            return
        }
        let (sql, parameters) = try state.sql.digest(.all)
        async let primaryRows = primary.connection.query(sql, parameters)
        async let drRows = dr.connection.query(sql, parameters)
        state.primary = Digest(row: try await primaryRows.rows.first ?? [])
        state.dr = Digest(row: try await drRows.rows.first ?? [])
        state.segments = 1
        if state.primary != state.dr { state.status = .different }
    }

    /// The first split of a table with a single integer key, from both sides' key extents.
    func integerBuckets(_ sql: TableSQL, primary: CheckSession, dr: CheckSession) async throws -> IntegerBuckets? {
        guard let typeMaximum = sql.integerKeyMaximum else { return nil }
        let (query, parameters) = try sql.keyExtent()
        async let primaryExtent = primary.connection.query(query, parameters)
        async let drExtent = dr.connection.query(query, parameters)
        let extents = [try await primaryExtent, try await drExtent].compactMap { $0.rows.first }
        func values(_ column: Int) -> [Int64] { extents.compactMap { $0[column].flatMap { Int64($0) } } }
        guard let lowest = values(0).min(), let highest = values(1).max() else { return nil }
        return IntegerBuckets.plan(minKey: lowest, maxKey: highest, estimatedRows: values(2).max() ?? -1, typeMaximum: typeMaximum)
    }

    /// Key values from a random sample of the primary's rows (TABLESAMPLE BERNOULLI: one cheap pass
    /// without hashing), ascending and distinct: about one per 1024 rows, so that the first split
    /// goes straight to leaves. Empty for small tables.
    func sampledBounds(_ sql: TableSQL, _ session: CheckSession, rows: Int64) async throws -> [[String]] {
        guard let firstSplit = firstSplitBuckets(rows: rows) else { return [] }
        let percent = min(100, Double(firstSplit) / Double(rows) * 100 * 1.2)
        let key = try SQLText.quoteIdentifier(sql.keys[0].name)
        let result = try await session.connection.query("""
            SELECT DISTINCT \(key)::text, \(key) FROM \(sql.qualified) TABLESAMPLE BERNOULLI (\(String(format: "%.6f", percent))) REPEATABLE (42) ORDER BY 2
            """)
        return result.rows.compactMap { $0[0].map { [$0] } }
    }

    /// Runs a bucket-digest query on both sides at once; the buckets whose digests differ, with the
    /// key range of each.
    func unequalBuckets(_ sql: String, _ parameters: [String?], _ state: inout TableState, primary: CheckSession, dr: CheckSession,
                        range: (Int) -> KeyRange) async throws -> [(KeyRange, Digest, Digest)] {
        let (primaryByBucket, drByBucket) = try await bucketDigests(sql, parameters, primary: primary, dr: dr)
        let (segments, unequal) = Self.unequal(primaryByBucket, drByBucket, range: range)
        state.segments += segments
        return unequal
    }

    /// A bucket-digest query's answer on both sides, asked at once.
    func bucketDigests(_ sql: String, _ parameters: [String?], primary: CheckSession, dr: CheckSession) async throws -> (primary: [Int: Digest], dr: [Int: Digest]) {
        async let primaryRows = primary.connection.query(sql, parameters)
        async let drRows = dr.connection.query(sql, parameters)
        return (buckets(try await primaryRows), buckets(try await drRows))
    }

    /// How many buckets either side has, and those whose digests differ (a bucket one side lacks
    /// is empty there), in bucket order with their key ranges.
    static func unequal(_ primary: [Int: Digest], _ dr: [Int: Digest], range: (Int) -> KeyRange) -> (segments: Int, unequal: [(KeyRange, Digest, Digest)]) {
        let numbers = Set(primary.keys).union(dr.keys).sorted()
        return (numbers.count, numbers.compactMap { number in
            let (left, right) = (primary[number] ?? .empty, dr[number] ?? .empty)
            return left == right ? nil : (range(number), left, right)
        })
    }

    func buckets(_ rows: PGRows) -> [Int: Digest] {
        var result: [Int: Digest] = [:]
        for row in rows.rows {
            guard let bucket = row[0].flatMap({ Int($0) }) else { continue }
            result[bucket] = Digest(row: Array(row.dropFirst()))
        }
        return result
    }

    /// Row-by-row comparison of small disjoint ranges: keys and hashes only. Also the ranges'
    /// full-fingerprint digests on each side.
    func compareRows(_ sql: TableSQL, _ ranges: [KeyRange], primary: CheckSession, dr: CheckSession) async throws -> (diffs: [RowDiff], primary: Digest, dr: Digest) {
        let (query, parameters) = try sql.rows(ranges)
        async let primaryRows = primary.connection.query(query, parameters)
        async let drRows = dr.connection.query(query, parameters)
        let keyCount = sql.keys.count
        func split(_ rows: PGRows) -> (rows: [([String], String)], digest: Digest) {
            var fingerprint: Int64 = 0
            let keyed = rows.rows.map { row in
                fingerprint ^= row[keyCount + 1].flatMap { Int64($0) } ?? 0
                return (row.prefix(keyCount).map { $0 ?? "" }, row[keyCount] ?? "")
            }
            return (keyed, Digest(count: Int64(keyed.count), fingerprint: fingerprint))
        }
        let (left, leftDigest) = split(try await primaryRows)
        let (right, rightDigest) = split(try await drRows)
        // Keyed by bytes: "café" in NFC and in NFD are two rows, as they are to the database.
        let rightByKey = Dictionary(right.map { ($0.0.map(\.byteKey), $0.1) }, uniquingKeysWith: { first, _ in first })
        let leftKeys = Set(left.map { $0.0.map(\.byteKey) })
        var diffs: [RowDiff] = []
        for (key, hash) in left {
            if let other = rightByKey[key.map(\.byteKey)] {
                if !other.sameBytes(as: hash) { diffs.append(RowDiff(key: key, kind: .changed)) }
            } else {
                diffs.append(RowDiff(key: key, kind: .missing))
            }
        }
        for (key, _) in right where !leftKeys.contains(key.map(\.byteKey)) {
            diffs.append(RowDiff(key: key, kind: .extra))
        }
        return (diffs, leftDigest, rightDigest)
    }

    /// Looks the differing keys up again on both sides; keeps those that still differ (they differed
    /// in every round), with their kind as of now.
    func recheck(_ state: inout TableState, primary: CheckSession, dr: CheckSession) async throws {
        state.diffs = try await state.sql.compareKeys(state.diffs.map(\.key), primary: primary.connection, dr: dr.connection)
            .compactMap { comparison in comparison.difference.map { RowDiff(key: comparison.key, kind: $0) } }
    }

    // MARK: result

    /// Tables the check did not reach are reported too: their whole-table digests were compared.
    func report(_ scope: Int, compared: Bool, rounds: Int, limit: Int) -> ScopeReport? {
        guard scope < states.count else { return ScopeReport(result: skipped[scope - states.count], diffs: [], differing: 0) }
        let state = states[scope]
        var missing = Int64(state.diffs.filter { $0.kind == .missing }.count)
        var extra = Int64(state.diffs.filter { $0.kind == .extra }.count)
        let changed = Int64(state.diffs.filter { $0.kind == .changed }.count)
        var status = state.status
        var reason = state.reason
        let unbisected = status == .different && !state.bisected
        if status == .error, state.reason == "the table does not exist on the DR side" {
            // Every row is missing; the keys are not listed.
            status = .different
            missing = state.primary.count
        } else if unbisected {
            // Not narrowed down (stopped early): the count difference is a lower bound.
            missing = max(missing, state.primary.count - state.dr.count)
            extra = max(extra, state.dr.count - state.primary.count)
            reason = "stopped early: a pass was already impossible; totals are lower bounds (use --full-diff for all)"
        } else if status == .different && state.diffs.isEmpty {
            status = .equal
            reason = rounds > 1 ? "differences seen in round 1 settled once the DR side caught up" : nil
        }
        let result = TableCheckResult(
            table: state.sql.displayName, status: status, reason: reason, primaryRows: state.primary.count, drRows: state.dr.count,
            missing: missing, extra: extra, changed: changed, segmentsCompared: state.segments, durationSeconds: state.seconds)
        let diffs = state.diffs.prefix(limit).map { Diff(table: state.sql.displayName, key: keyObject(state.sql, $0.key), kind: $0.kind) }
        return ScopeReport(result: result, diffs: Array(diffs), differing: Int64(state.diffs.count), stoppedEarly: unbisected)
    }

    /// The primary key as a JSON object; integer columns as numbers.
    func keyObject(_ sql: TableSQL, _ values: [String]) -> JSONValue {
        var object: [String: JSONValue] = [:]
        for (column, value) in zip(sql.keys, values) {
            if ["int2", "int4", "int8"].contains(column.typeName), let number = Double(value) {
                object[column.name] = .number(number)
            } else {
                object[column.name] = .string(value)
            }
        }
        return .object(object)
    }
}

