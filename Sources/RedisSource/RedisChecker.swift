import Foundation
import RedisClient
import SyncCore

/// The Redis consistency check, bidirectional in one run, per configured database:
/// 1. primary → DR: SCAN the primary (sizing keys one batch ahead); for each batch pipeline PTTL +
///    DUMP on both sides at once.
///    Equal serialized values are equal; keys whose bytes differ (perhaps only the encoding), and
///    keys too big to DUMP in a batch, are read whole on both sides and compared by canonical digest.
/// 2. DR → primary, alongside on its own connections: SCAN the DR side and ask the primary
///    `EXISTS k1 … kn` per batch; only a batch whose count falls short is looked at key by key.
///    This finds keys only on the DR side.
/// 3. Keys that differed are re-read whole on both sides over several rounds, with the DR side given
///    time to catch up in between; only differences that persist are reported. They are settled
///    as they are found (in chunks), so the early stop works on confirmed counts: the engine
///    (`CheckEngine`) has no rounds of its own to run for Redis.
struct RedisChecker: CheckStrategy {
    let source: String
    let config: SourceConfig
    let checkOptions: CheckOptions
    /// Waits between re-check rounds (drain for a replica, a pause for an independent instance).
    let settle: @Sendable () async throws -> Void

    /// The databases compared, and what each one's comparison found.
    var databases: [Int] = []
    var primaryKeys: [Int64] = []
    var found: [Int: (state: DatabaseState, seconds: Double, stopped: Bool)] = [:]

    init(source: String, config: SourceConfig, checkOptions: CheckOptions, settle: @escaping @Sendable () async throws -> Void) {
        self.source = source
        self.config = config
        self.checkOptions = checkOptions
        self.settle = settle
    }

    static let scanCount = 1000
    /// Round-1 suspects are settled in chunks of this many, so early stop works on confirmed counts.
    static let settleChunk = 5000

    var options: RedisOptions { config.redis ?? RedisOptions(mode: .replica) }
    var excluded: [UInt8]? { options.heartbeatKey.map { Array($0.utf8) } }

    final class DatabaseState: @unchecked Sendable {
        // Used by one task at a time (the check runs its steps in sequence).
        var primaryKeys: Int64 = 0
        var drKeys: Int64 = 0
        var batches = 0
        var suspects: [[UInt8]: KeyVerdict] = [:]
        var confirmed: [([UInt8], KeyVerdict)] = []
        var missing: Int64 = 0
        var extra: Int64 = 0
        var changed: Int64 = 0
        var settledAway: Int64 = 0
        /// Keys of module types (RedisJSON, ...) whose serialized bytes differed: no canonical digest here.
        var uncomparable: Int64 = 0
        /// How keys were compared in round 1: by serialized bytes, or read whole by canonical digest.
        var byBytes: Int64 = 0
        var byDigest: Int64 = 0
        var total: Int64 { missing + extra + changed }

        /// Adds what a reader lane found (lanes work on disjoint keys).
        func absorb(_ lane: DatabaseState) {
            primaryKeys += lane.primaryKeys
            batches += lane.batches
            suspects.merge(lane.suspects) { current, _ in current }
            confirmed += lane.confirmed
            missing += lane.missing
            extra += lane.extra
            changed += lane.changed
            settledAway += lane.settledAway
            uncomparable += lane.uncomparable
            byBytes += lane.byBytes
            byDigest += lane.byDigest
        }
    }

    /// Reader lanes of the primary → DR pass: batches in flight at once, each lane on its own pair
    /// of connections, so neither server waits while syncd judges a batch.
    static let readerLanes = 3

    var words: SourceWords { .redis }
    var rounds: Int { max(1, checkOptions.rounds) }

    mutating func prepare(_ reporter: CheckReporter) async throws -> [String] {
        databases = try selectedDatabases()
        // The budget of differences is a share of every compared database's keys.
        for database in databases {
            primaryKeys.append(try await RedisSide.open(config.primary, side: .primary, database: database).keyCount())
        }
        return databases.map { "db\($0)" }
    }

    var primaryItems: Int64 { primaryKeys.reduce(0, +) }

    mutating func compare(_ scope: Int, budget: Int64?, reporter: CheckReporter) async throws -> Bool {
        do {
            return try await compareDatabase(scope, budget: budget, reporter: reporter)
        } catch {
            throw ClusterRedirect.explain(error)
        }
    }

    private mutating func compareDatabase(_ scope: Int, budget: Int64?, reporter: CheckReporter) async throws -> Bool {
        let database = databases[scope]
        let started = Date()
        let primary = try await RedisSide.open(config.primary, side: .primary, database: database)
        let dr = try await RedisSide.open(config.dr, side: .dr, database: database)
        let stability = SlotStability.capture([primary, dr])
        let state = DatabaseState()
        // The DR → primary pass runs alongside on its own connections: it mostly loads the DR
        // side, which the primary → DR pass leaves the less busy of the two.
        let extraPrimary = try await RedisSide.open(config.primary, side: .primary, database: database)
        let extraDR = try await RedisSide.open(config.dr, side: .dr, database: database)
        let checker = self
        let extraScan = Task { try await checker.drPass(primary: extraPrimary, dr: extraDR) }
        // One sizer per scan unit (the server, or each master of a cluster), on connections of its own.
        let sizing = try await RedisSide.open(config.primary, side: .primary, database: database)
        var sizers: [KeySizer] = []
        for node in sizing.nodes {
            let replica = sizing.isCluster ? nil : try await replicaForSizing(primary: node, database: database)
            sizers.append(KeySizer(connection: node, replica: replica, excluded: excluded))
        }
        var stopped: Bool
        do {
            stopped = try await primaryPass(sizers: sizers, state: state, database: database, rounds: rounds, reporter: reporter, limit: budget)
        } catch {
            extraScan.cancel()
            throw error
        }
        if stopped { extraScan.cancel() }
        let extras = try await extraScan.value
        state.drKeys = extras.drKeys
        for key in extras.keys where state.suspects[key] == nil {
            state.suspects[key] = KeyVerdict(kind: .extra, detail: "only on the DR side")
        }
        state.extra += extras.beyondCap
        if !stopped { try await settle(state, primary: primary, dr: dr, rounds: rounds) }
        if let budget, state.total > budget { stopped = true }
        // Also after an early stop: keys a moving slot answered with MOVED/ASK are not differences.
        try await stability.verify(config)
        found[scope] = (state, Date().timeIntervalSince(started), stopped)
        return stopped
    }

    func budgetUsed(_ scope: Int) -> Int64 { found[scope]?.state.total ?? 0 }

    /// Suspects were settled in `compare`'s own rounds.
    func needsRecheck(_ scope: Int) -> Bool { false }

    mutating func catchUp(before round: Int, timeout: Duration) async throws -> CatchUpOutcome { .caughtUp }

    mutating func recheck(_ scope: Int, round: Int, reporter: CheckReporter) async throws {}

    func roundsRun(_ engineRounds: Int) -> Int { rounds }

    func report(_ scope: Int, compared: Bool, rounds: Int, limit: Int) -> ScopeReport? {
        guard compared, let (state, seconds, stopped) = found[scope] else { return nil }
        let status: TableCheckStatus = state.total > 0 ? .different : .equal
        var reason: String?
        if stopped {
            reason = "stopped early: more keys differ than the threshold allows; totals are lower bounds (run with --full-diff to list them all)"
        } else if state.uncomparable > 0 {
            reason = "\(state.uncomparable) key(s) of module types serialize differently and have no canonical digest here: counted as differing"
        } else if state.settledAway > 0 {
            reason = "\(state.settledAway) key(s) that differed in round 1 settled in later rounds (writes in flight)"
        }
        let label = "db\(databases[scope])"
        let result = TableCheckResult(table: label, status: status, reason: reason, primaryRows: state.primaryKeys, drRows: state.drKeys,
                                      missing: state.missing, extra: state.extra, changed: state.changed,
                                      segmentsCompared: state.batches, durationSeconds: seconds)
        let diffs = state.confirmed.sorted(by: { $0.0.lexicographicallyPrecedes($1.0) }).prefix(limit).map { key, verdict in
            Diff(table: label, key: keyJSON(key), kind: verdict.kind, detail: verdict.detail)
        }
        return ScopeReport(result: result, diffs: Array(diffs), differing: state.total, stoppedEarly: stopped)
    }

    func notes(rounds: Int) -> [String] {
        var notes: [String] = []
        if let key = options.heartbeatKey { notes.append("the heartbeat key '\(key)' is excluded: it changes on every poll") }
        let byBytes = found.values.reduce(Int64(0)) { $0 + $1.state.byBytes }
        let byDigest = found.values.reduce(Int64(0)) { $0 + $1.state.byDigest }
        notes.append("round 1 compared \(byBytes) key(s) by their serialized bytes (DUMP) and \(byDigest) by canonical digest (hashtable sets and hashes from their DUMP payload; big keys and other differing bytes read whole)")
        if self.rounds > 1 { notes.append("differing keys were re-read whole in up to \(self.rounds) rounds; only differences present in every round are reported") }
        return notes
    }

    mutating func close() async {}

    /// `--table db3` (or `3`) restricts a check to some of the configured databases.
    func selectedDatabases() throws -> [Int] {
        guard let names = checkOptions.tables else { return options.databases }
        return try names.map { name in
            let number = Int(name.hasPrefix("db") ? String(name.dropFirst(2)) : name)
            guard let number, options.databases.contains(number) else {
                throw SyncError.invalidState("'\(name)' is not one of this source's databases (\(options.databases.map { "db\($0)" }.joined(separator: ", ")))")
            }
            return number
        }
    }

    // MARK: primary → DR

    /// The sizer runs ahead on its own connection while `readerLanes` lanes, each with its own
    /// connection to either side, get PTTL + DUMP of their batch from both sides at once, so the
    /// primary always has work queued and syncd judges batches while others are on the wire.
    /// Each lane keeps its own tally (absorbed into `state` at the end) and settles its own
    /// suspects; true when the check may stop (a pass is impossible).
    private func primaryPass(sizers: [KeySizer], state: DatabaseState, database: Int, rounds: Int,
                             reporter: CheckReporter, limit: Int64?) async throws -> Bool {
        var lanePairs: [(RedisSide, RedisSide)] = []
        for _ in 0..<Self.readerLanes {
            lanePairs.append((try await RedisSide.open(config.primary, side: .primary, database: database),
                              try await RedisSide.open(config.dr, side: .dr, database: database)))
        }
        for sizer in sizers {
            let feed = BatchFeed(sizer)
            let lanes = try await withThrowingTaskGroup(of: (DatabaseState, Bool).self) { group in
                for (primary, dr) in lanePairs {
                    group.addTask {
                        let lane = DatabaseState()
                        while let batch = try await feed.next() {
                            let before = lane.primaryKeys
                            for (mine, theirs, keys) in primary.pairs(batch.small, with: dr) {
                                try await compareBatch(keys, primary: primary.nodes[mine], dr: dr.nodes[theirs], state: lane)
                            }
                            for key in batch.big {
                                try await judgeWhole(key, primary: primary.connection(for: key), dr: dr.connection(for: key), state: lane)
                            }
                            reporter.compared(lane.primaryKeys - before)
                            if try await settleIfNeeded(lane, primary: primary, dr: dr, rounds: rounds, limit: limit) {
                                await feed.stop()
                                return (lane, true)
                            }
                        }
                        return (lane, false)
                    }
                }
                var results: [(DatabaseState, Bool)] = []
                for try await result in group { results.append(result) }
                return results
            }
            for (lane, _) in lanes { state.absorb(lane) }
            if lanes.contains(where: { $0.1 }) || (limit.map { state.total > $0 } ?? false) { return true }
        }
        return false
    }

    /// PTTL + DUMP of small keys, the primary first, then the DR side, whose replies are compared
    /// with the primary's where they arrive (no copy of an equal value is made). Equal bytes settle
    /// a key; the rest are compared by canonical digest. The lanes keep both servers busy meanwhile.
    private func compareBatch(_ keys: KeyList, primary: RedisConnection, dr: RedisConnection, state: DatabaseState) async throws {
        guard !keys.isEmpty else { return }
        var commands = RESPBatch(reservingCapacity: 2 * keys.bytes.count + keys.count * 40)
        KeyReader.appendSnapshots(of: keys, to: &commands)
        let batch = commands
        let primarySide = try await primary.pipeline(batch) { replies in
            var snapshots = SnapshotBatch(reservingCapacity: keys.count)
            for _ in keys.indices { try snapshots.read(&replies) }
            return snapshots
        }
        let drSide = try await dr.pipeline(batch) { replies in
            var views: [DRView] = []
            views.reserveCapacity(keys.count)
            for position in keys.indices { views.append(try DRView.read(&replies, against: primarySide, at: position)) }
            return views
        }
        state.batches += 1
        var mismatched: [Mismatch] = []
        for position in keys.indices {
            switch drSide[position] {
            case let .sameBytes(drTTL):
                guard case let .dumped(_, primaryTTL) = primarySide.entries[position] else { continue }
                tallySameBytes(keys[position], primaryTTL: primaryTTL, drTTL: drTTL, state: state)
            case let .other(snapshot):
                if let mismatch = judge(keys[position], primarySide.snapshot(position), snapshot, state: state) { mismatched.append(mismatch) }
            }
        }
        try await judgeCanonically(mismatched, primary: primary, dr: dr, state: state)
    }

    /// The DR side's answer for one key, read against the primary's snapshot.
    enum DRView: Sendable {
        /// Serialized bytes equal to the primary's (trailer aside); the DR side's TTL.
        case sameBytes(ttl: Int64)
        case other(Snapshot)

        static func read(_ replies: inout RedisReplies, against primary: SnapshotBatch, at position: Int) throws -> DRView {
            guard case let .dumped(range, _) = primary.entries[position] else { return .other(try KeyReader.snapshot(&replies)) }
            return try KeyReader.snapshot(&replies, absent: .other(.absent), unreadable: { .other(.unreadable($0)) }) { bytes, ttl in
                primary.withPayload(range) { Snapshot.sameBody($0, bytes) }
                    ? .sameBytes(ttl: ttl) : .other(.dumped(payload: Array(bytes), ttl: ttl))
            }
        }
    }

    /// A small key whose serialized bytes differ between the sides: equal values can serialize
    /// differently (encoding, or hash-table order, which follows each server's random hash seed).
    struct Mismatch {
        var key: [UInt8]
        var primaryType: RedisType?
        var drType: RedisType?
        var primaryTTL: Int64
        var drTTL: Int64
    }

    /// Equal serialized bytes (and TTLs) settle a key at once; a missing key is a suspect; anything
    /// else is returned for a canonical comparison.
    private func judge(_ key: @autoclosure () -> [UInt8], _ p: Snapshot, _ d: Snapshot, state: DatabaseState) -> Mismatch? {
        switch (p, d) {
        case (.absent, _):
            return nil // deleted or expired since SCAN: not a unit of this check
        case (.dumped, .absent):
            state.primaryKeys += 1
            state.suspects[key()] = KeyVerdict(kind: .missing, detail: "not on the DR side")
            return nil
        case let (.dumped(primaryPayload, primaryTTL), .dumped(drPayload, drTTL)):
            if Snapshot.sameBody(primaryPayload, drPayload) {
                tallySameBytes(key(), primaryTTL: primaryTTL, drTTL: drTTL, state: state)
                return nil
            }
            if let p = RDBPayload.sortedElements(primaryPayload), let d = RDBPayload.sortedElements(drPayload), p == d {
                // Hashtable sets and hashes holding the same elements in each server's hash order.
                tallyEqualValues(key(), primaryTTL: primaryTTL, drTTL: drTTL, state: state)
                return nil
            }
            if let p = RDBPayload.digest(primaryPayload), let d = RDBPayload.digest(drPayload) {
                // Hashtable sets and hashes: their order follows each server's hash seed.
                tallyByDigest(key(), .value(p, ttl: primaryTTL), .value(d, ttl: drTTL), state: state)
                return nil
            }
            return Mismatch(key: key(), primaryType: Snapshot.type(of: primaryPayload), drType: Snapshot.type(of: drPayload),
                            primaryTTL: primaryTTL, drTTL: drTTL)
        default:
            return Mismatch(key: key(), primaryType: nil, drType: nil, primaryTTL: -1, drTTL: -1)
        }
    }

    /// Small mismatched keys: one pipelined whole-value read per side, digested canonically.
    /// Keys of unknown (module) types, and any read that fails, take the paged path.
    private func judgeCanonically(_ mismatched: [Mismatch], primary: RedisConnection, dr: RedisConnection,
                                  state: DatabaseState) async throws {
        // Streams take the paged path too: it reads their consumer groups, which DUMP carries but
        // the entries' digest does not.
        func paged(_ item: Mismatch) -> Bool { item.primaryType == nil || item.drType == nil || item.primaryType == .stream || item.drType == .stream }
        let readable = mismatched.filter { !paged($0) }
        for mismatch in mismatched where paged(mismatch) {
            try await judgeWhole(mismatch.key, primary: primary, dr: dr, state: state)
        }
        guard !readable.isEmpty else { return }
        var primaryCommands = RESPBatch()
        var drCommands = RESPBatch()
        for item in readable {
            primaryCommands.append(KeyReader.wholeReads[item.primaryType!]!, key: item.key)
            drCommands.append(KeyReader.wholeReads[item.drType!]!, key: item.key)
        }
        let primaryTypes = readable.map { $0.primaryType! }
        let drTypes = readable.map { $0.drType! }
        let primaryBatch = primaryCommands
        let drBatch = drCommands
        async let primaryDigests = primary.pipeline(primaryBatch) { replies in
            try primaryTypes.map { type in try? KeyReader.digestWhole(try replies.next(), type) }
        }
        async let drDigests = dr.pipeline(drBatch) { replies in
            try drTypes.map { type in try? KeyReader.digestWhole(try replies.next(), type) }
        }
        let (primarySide, drSide) = try await (primaryDigests, drDigests)
        for (index, item) in readable.enumerated() {
            guard let p = primarySide[index], let d = drSide[index] else {
                // Gone or changed type since the DUMP, or unreadable: compare it the slow way.
                try await judgeWhole(item.key, primary: primary, dr: dr, state: state)
                continue
            }
            tallyByDigest(item.key, .value(p, ttl: item.primaryTTL), .value(d, ttl: item.drTTL), state: state)
        }
    }

    /// Reads a key whole on both sides and compares canonical digests.
    private func judgeWhole(_ key: [UInt8], primary: RedisConnection, dr: RedisConnection, state: DatabaseState) async throws {
        let (p, d) = try await readBoth(key, primary: primary, dr: dr)
        if p == .absent { return }
        if case let .unreadable(reason) = p, reason.hasPrefix("type '") {
            // A module type whose serialized bytes differ: equality cannot be shown, so it counts as
            // differing (fail closed) with that reason.
            state.uncomparable += 1
        }
        tallyByDigest(key, p, d, state: state)
    }

    /// A primary key whose serialized bytes are equal on both sides: only its TTL can differ.
    private func tallySameBytes(_ key: @autoclosure () -> [UInt8], primaryTTL: Int64, drTTL: Int64, state: DatabaseState) {
        state.byBytes += 1
        tallyTTLs(key(), primaryTTL: primaryTTL, drTTL: drTTL, state: state)
    }

    /// A primary key whose values were shown equal element by element: only its TTL can differ.
    private func tallyEqualValues(_ key: @autoclosure () -> [UInt8], primaryTTL: Int64, drTTL: Int64, state: DatabaseState) {
        state.byDigest += 1
        tallyTTLs(key(), primaryTTL: primaryTTL, drTTL: drTTL, state: state)
    }

    private func tallyTTLs(_ key: @autoclosure () -> [UInt8], primaryTTL: Int64, drTTL: Int64, state: DatabaseState) {
        state.primaryKeys += 1
        if let ttl = ttlDifference(primaryTTL, drTTL, tolerance: options.ttlToleranceSeconds) {
            state.suspects[key()] = KeyVerdict(kind: .changed, detail: ttl)
        }
    }

    /// A primary key compared by canonical digest; a difference makes it a suspect for the rounds.
    private func tallyByDigest(_ key: @autoclosure () -> [UInt8], _ primary: KeyReading, _ dr: KeyReading, state: DatabaseState) {
        state.primaryKeys += 1
        state.byDigest += 1
        if let verdict = compareReadings(primary, dr, ttlTolerance: options.ttlToleranceSeconds) {
            state.suspects[key()] = verdict
        }
    }

    static func scanWords(_ cursor: [UInt8]) -> [[UInt8]] {
        [Array("SCAN".utf8), cursor, Array("COUNT".utf8), Array(String(scanCount).utf8)]
    }

    func readBoth(_ key: [UInt8], primary: RedisSide, dr: RedisSide) async throws -> (KeyReading, KeyReading) {
        try await readBoth(key, primary: primary.connection(for: key), dr: dr.connection(for: key))
    }

    func readBoth(_ key: [UInt8], primary: RedisConnection, dr: RedisConnection) async throws -> (KeyReading, KeyReading) {
        async let p = KeyReader.readWhole(primary, key)
        async let d = KeyReader.readWhole(dr, key)
        return try await (p, d)
    }

    static func scanReply(_ reply: RedisReplyRef, excluding excluded: [UInt8]?) throws -> ([UInt8], KeyList) {
        if let message = reply.errorMessage { throw RedisError(kind: .server, message: "SCAN failed: \(message)") }
        guard reply.kind == .array, reply.count == 2, reply[1].kind == .array else { throw KeyReader.shape("SCAN") }
        let items = reply[1]
        var keys = KeyList(reservingCapacity: items.count, bytes: items.count * 24)
        for index in 0..<items.count {
            let key = items[index].bytes
            if let excluded, key.elementsEqual(excluded) { continue }
            keys.append(key)
        }
        return (Array(reply[0].bytes), keys)
    }
}
