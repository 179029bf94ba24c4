import Foundation
import PostgresClient
import SyncCore

/// A PostgreSQL primary and its DR copy: a physical streaming standby or a logical subscriber
/// (detected on every poll, so a promotion or a dropped subscription shows at once).
public actor PostgresSource: SourceAdapter {
    public nonisolated let name: String
    public nonisolated let kind: SourceKind = .postgres
    public nonisolated let volumeUnit: VolumeUnit = .bytes
    let config: SourceConfig
    let options: PostgresOptions
    var connections: [Side: PGConnection] = [:]
    var history = PositionHistory()
    /// The topology seen by the latest detection, for cheap capability answers.
    var lastTopology: Topology?
    /// Tables whose digests differed at the latest check (see `PostgresChecker.differedLastTime`).
    var differedLastTime: Set<ByteKey> = []

    /// A stream is considered stalled when nothing arrived for this long: the standby asks for a
    /// keepalive after wal_receiver_timeout/2 (30 s by default), so a healthy idle link stays below it.
    static let silentLinkSeconds: Double = 90
    /// How long pause/resume wait for the server to confirm the new state.
    static let confirmTimeout: Duration = .seconds(10)

    public enum Topology: Sendable, Equatable {
        case physical
        case logical(subscription: String, slot: String)
        /// Two databases kept alike by a tool syncd does not drive.
        case independent

        var label: String {
            switch self {
            case .physical: "physical"
            case .logical: "logical"
            case .independent: "independent"
            }
        }
    }

    public init(config: SourceConfig) {
        name = config.name
        self.config = config
        options = config.postgres ?? PostgresOptions()
    }

    public func capabilities() async -> Set<SourceOperation> {
        switch lastTopology {
        case .logical?: [.pause, .resume, .drain, .check, .reconcile, .fullSync]
        case .independent?: options.heartbeatTable == nil ? [.check, .reconcile] : [.drain, .check, .reconcile]
        default: options.mode == .independent ? [.check, .reconcile] : [.pause, .resume, .drain, .check]
        }
    }

    public func planReconcile(from check: CheckResult) async throws -> ReconcilePlan {
        try await requireWritableDR()
        return try await PostgresReconciler(source: name, config: config).plan(from: check)
    }

    public func applyReconcile(_ plan: ReconcilePlan) async throws -> ReconcileOutcome {
        try await requireWritableDR()
        return try await PostgresReconciler(source: name, config: config).apply(plan)
    }

    /// What to do instead of writing into a physical standby.
    var recloneRemedy: String {
        "re-clone it so it matches the primary: stop the standby, empty its data directory, run pg_basebackup -R -D <datadir> -h \(config.primary.host) -p \(config.primary.port), then start it"
    }

    /// Only a logical subscriber can take writes; a standby replays WAL and is read-only.
    func requireWritableDR() async throws {
        if try await topology() == .physical {
            throw SyncError.unsupported(
                operation: .reconcile,
                reason: "the DR side is a physical standby, which is read-only: it replays the primary's WAL byte for byte and rows cannot be written into it",
                remedy: recloneRemedy)
        }
    }

    public func check(_ options: CheckOptions, progress: @escaping @Sendable (CheckProgress) -> Void) async throws -> CheckResult {
        let topology = try await topology()
        var checker = PostgresChecker(
            source: name, config: config, options: options, differedLastTime: differedLastTime,
            waitUntilApplied: { target, timeout in
                _ = try await self.waitUntilApplied(target, topology: topology, timeout: timeout, purpose: "the check's re-check round",
                                                    stopWhenStalled: true)
            })
        var result = try await CheckEngine.run(&checker, source: name, threshold: config.policy.ratioThreshold, options: options, progress: progress)
        let outcomes = checker.digestOutcomes
        differedLastTime.subtract(outcomes.equal)
        differedLastTime.formUnion(outcomes.differed)
        // A standby replays sequences with the WAL; a logical copy does not. A partial check
        // (--table) leaves them to the full one.
        if topology != .physical, options.tables == nil, result.error == nil {
            let sequences = try await compareSequences()
            result.addBlocking(sequences.diffs, reasons: sequences.reasons)
        }
        // DDL does not travel with logical or independent copies (a standby replays it).
        if topology != .physical, result.error == nil {
            let drift = try await compareSchemas(result.tables.filter { $0.status != .skipped }.map(\.table))
            result.addBlocking(drift.diffs.filter { !($0.detail ?? "").hasSuffix("(warning)") }, reasons: drift.blockers)
            result.diffs += drift.diffs.filter { ($0.detail ?? "").hasSuffix("(warning)") }
            result.notes += drift.warnings.map { "warning: \($0)" }
        }
        return result
    }

    public func shutdown() async {
        connections = [:]
    }

    // MARK: connections

    func connection(_ side: Side) async throws -> PGConnection {
        if let existing = connections[side], await existing.isHealthy() { return existing }
        connections[side] = nil
        // A monitoring query that takes 15 s is itself a symptom; do not let it hold the poll loop.
        let connection = try await PGConnection.connect(to: endpoint(side), side: side, applicationName: "syncd:\(name)",
                                                        settings: ["statement_timeout": "15s"])
        connections[side] = connection
        return connection
    }

    func endpoint(_ side: Side) -> EndpointConfig {
        side == .primary ? config.primary : config.dr
    }

    func sideLabel(_ side: Side) -> String {
        describeSide(side, endpoint(side))
    }

    /// One statement on one side; a broken connection is dropped so the next call reconnects.
    @discardableResult
    func run(_ side: Side, _ sql: String, _ parameters: [String?] = []) async throws -> PGRows {
        let connection = try await connection(side)
        do {
            return try await connection.query(sql, parameters)
        } catch let error as PostgresError {
            if error.kind == .connection || error.kind == .timeout {
                if connections[side] === connection { connections[side] = nil }
                throw SyncError.unreachable(side: sideLabel(side), message: error.message)
            }
            throw SyncError.failed("\(sideLabel(side)): \(error)")
        }
    }

    // MARK: topology

    public func topology() async throws -> Topology {
        let topology = try await detectTopology()
        lastTopology = topology
        return topology
    }

    func detectTopology() async throws -> Topology {
        let recovery = try await run(.dr, "SELECT pg_is_in_recovery()::text AS in_recovery")
        let inRecovery = recovery.value(0, "in_recovery") == "true"
        switch options.mode {
        case .physical:
            guard inRecovery else {
                throw SyncError.invalidState("the DR server is not in recovery: it was promoted or is not a streaming standby")
            }
            return .physical
        case .logical:
            return try await subscription()
        case .auto:
            return inRecovery ? .physical : try await subscription()
        case .independent:
            guard !inRecovery else {
                throw SyncError.invalidState("mode is independent, but the DR server is in recovery (a streaming standby): use mode: physical")
            }
            return .independent
        }
    }

    func subscription() async throws -> Topology {
        let rows = try await run(.dr, """
            SELECT subname, subslotname FROM pg_subscription
            WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY subname
            """)
        let found = rows.rows.compactMap { row -> (String, String)? in
            guard let name = row[0] else { return nil }
            return (name, row[1] ?? name)
        }
        if let wanted = options.subscription {
            guard let match = found.first(where: { $0.0 == wanted }) else {
                throw SyncError.invalidState("subscription '\(wanted)' does not exist in the DR database (found: \(found.map(\.0).joined(separator: ", ")))")
            }
            return .logical(subscription: match.0, slot: match.1)
        }
        switch found.count {
        case 0:
            throw SyncError.invalidState("the DR server is neither a streaming standby nor a logical subscriber (no subscription in its database)")
        case 1:
            return .logical(subscription: found[0].0, slot: found[0].1)
        default:
            throw SyncError.invalidState("the DR database has several subscriptions (\(found.map(\.0).joined(separator: ", "))): set 'subscription' in the source's config")
        }
    }

    // MARK: sampling

    /// Every statement of a poll shares one deadline, `poll_timeout` from its start.
    public func sample() async -> Sample {
        let now = Date()
        do {
            return try await CallDeadline.within(seconds: config.pollTimeoutSeconds) {
                switch try await topology() {
                case .physical:
                    return try await samplePhysical(now: now)
                case let .logical(subscription, slot):
                    return try await sampleLogical(subscription: subscription, slot: slot, now: now)
                case .independent:
                    return try await sampleIndependent(now: now)
                }
            }
        } catch {
            return .failed(error, time: now, unit: .bytes)
        }
    }

    func primaryFlushPosition() async throws -> Int64 {
        let rows = try await run(.primary, """
            SELECT pg_is_in_recovery()::text AS in_recovery,
                   CASE WHEN NOT pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::bigint END AS flush_pos
            """)
        guard rows.value(0, "in_recovery") == "false", let flush = rows.value(0, "flush_pos").flatMap({ Int64($0) }) else {
            throw SyncError.invalidState("the configured primary is in recovery itself (it is a standby, not a primary)")
        }
        history.record(position: flush, at: Date())
        return flush
    }

    struct PhysicalStatus {
        var replayPosition: Int64
        var receivePosition: Int64?
        var pauseState: String
        var receiverStatus: String?
        var lastMessageAge: Double?
        var replayTimestampAge: Double?
    }

    func physicalStatus() async throws -> PhysicalStatus {
        let rows = try await run(.dr, """
            SELECT pg_is_in_recovery()::text AS in_recovery,
                   pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint AS replay_pos,
                   pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::bigint AS receive_pos,
                   CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END AS pause_state,
                   (SELECT status FROM pg_stat_wal_receiver) AS receiver_status,
                   (SELECT extract(epoch FROM now() - last_msg_receipt_time) FROM pg_stat_wal_receiver)::float8 AS last_msg_age,
                   extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_ts_age
            """)
        guard rows.value(0, "in_recovery") == "true" else {
            throw SyncError.invalidState("the DR server left recovery: it was promoted and no longer follows the primary")
        }
        guard let replay = rows.value(0, "replay_pos").flatMap({ Int64($0) }) else {
            throw SyncError.invalidState("the DR standby reports no replay position yet")
        }
        return PhysicalStatus(
            replayPosition: replay,
            receivePosition: rows.value(0, "receive_pos").flatMap { Int64($0) },
            pauseState: rows.value(0, "pause_state") ?? "not paused",
            receiverStatus: rows.value(0, "receiver_status"),
            lastMessageAge: rows.value(0, "last_msg_age").flatMap { Double($0) },
            replayTimestampAge: rows.value(0, "replay_ts_age").flatMap { Double($0) })
    }

    func samplePhysical(now: Date) async throws -> Sample {
        let flush = try await primaryFlushPosition()
        let status = try await physicalStatus()
        let behind = max(0, flush - status.replayPosition)
        var sample = Sample(time: now, state: .inSync, lagVolume: behind, unit: .bytes,
                            position: status.replayPosition, topology: "physical")
        sample.details = [
            "primary_flush_lsn": formatLSN(flush),
            "dr_replay_lsn": formatLSN(status.replayPosition),
            "replay_pause_state": status.pauseState,
            "wal_receiver": status.receiverStatus ?? "not running",
        ]
        if let receive = status.receivePosition { sample.details["dr_receive_lsn"] = formatLSN(receive) }
        if let age = status.lastMessageAge { sample.details["last_message_age_s"] = String(format: "%.1f", age) }
        sample.lagSeconds = lagSeconds(applied: status.replayPosition, upperBound: status.replayTimestampAge, into: &sample)

        var problems: [String] = []
        var paused = false
        if status.pauseState != "not paused" {
            paused = true
            problems.append("WAL replay on the DR standby is \(status.pauseState) (pg_wal_replay_pause)")
        }
        switch status.receiverStatus {
        case nil:
            problems.append("no WAL receiver is running on the DR standby: streaming from the primary has stopped")
        case "streaming"?:
            if let age = status.lastMessageAge, age > Self.silentLinkSeconds {
                problems.append(String(format: "no message from the primary for %.0f s: the stream is stalled", age))
            }
        case let other?:
            if other != "catchup" && other != "starting" {
                problems.append("the DR standby's WAL receiver is '\(other)', not streaming")
            }
        }
        return finish(&sample, behind: behind, paused: paused, problems: problems)
    }

    /// Applies the state rules shared by both topologies.
    func finish(_ sample: inout Sample, behind: Int64, paused: Bool, problems: [String]) -> Sample {
        sample.errors = problems
        if paused {
            sample.state = .paused
        } else if !problems.isEmpty {
            sample.state = .broken
        } else if let lag = sample.lagSeconds, lag > config.policy.lagBudgetSeconds {
            sample.state = .lagging
        } else {
            sample.state = behind > 0 ? .syncing : .inSync
        }
        return sample
    }

    func lagSeconds(applied: Int64, upperBound: Double?, into sample: inout Sample) -> Double {
        switch history.lag(applied: applied, now: sample.time) {
        case let .measured(seconds):
            sample.details["lag_seconds_basis"] = "primary WAL history"
            return seconds
        case let .atLeast(seconds):
            // Behind everything seen since syncd started: the last replayed commit bounds the lag from above.
            if let upperBound, upperBound >= seconds {
                sample.details["lag_seconds_basis"] = "upper bound: age of the last replayed commit"
                return upperBound
            }
            sample.details["lag_seconds_basis"] = "lower bound: behind every position seen since syncd started"
            return seconds
        }
    }

    struct LogicalStatus {
        var enabled: Bool
        var workerRunning: Bool
        var lastMessageAge: Double?
        var tablesNotReady: Int
    }

    func logicalStatus(subscription: String) async throws -> LogicalStatus {
        let rows = try await run(.dr, """
            SELECT s.subenabled::text AS enabled,
                   (SELECT st.pid FROM pg_stat_subscription st WHERE st.subid = s.oid AND st.relid IS NULL LIMIT 1) AS worker_pid,
                   (SELECT extract(epoch FROM now() - st.last_msg_receipt_time) FROM pg_stat_subscription st
                     WHERE st.subid = s.oid AND st.relid IS NULL LIMIT 1)::float8 AS last_msg_age,
                   (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid AND r.srsubstate <> 'r') AS not_ready
            FROM pg_subscription s
            WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            """, [subscription])
        guard rows.count == 1 else { throw SyncError.invalidState("subscription '\(subscription)' disappeared from the DR database") }
        return LogicalStatus(
            enabled: rows.value(0, "enabled") == "true",
            workerRunning: rows.value(0, "worker_pid") != nil,
            lastMessageAge: rows.value(0, "last_msg_age").flatMap { Double($0) },
            tablesNotReady: rows.value(0, "not_ready").flatMap { Int($0) } ?? 0)
    }

    struct SlotStatus {
        var confirmedPosition: Int64?
        var active: Bool
        var walStatus: String?
    }

    func slotStatus(slot: String) async throws -> SlotStatus? {
        let rows = try await run(.primary, """
            SELECT pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint AS confirmed_pos, active::text AS active, wal_status
            FROM pg_replication_slots WHERE slot_name = $1
            """, [slot])
        guard rows.count == 1 else { return nil }
        return SlotStatus(confirmedPosition: rows.value(0, "confirmed_pos").flatMap { Int64($0) },
                          active: rows.value(0, "active") == "true", walStatus: rows.value(0, "wal_status"))
    }

    func sampleLogical(subscription: String, slot: String, now: Date) async throws -> Sample {
        let flush = try await primaryFlushPosition()
        let status = try await logicalStatus(subscription: subscription)
        guard let slotStatus = try await slotStatus(slot: slot), let confirmed = slotStatus.confirmedPosition else {
            var sample = Sample(time: now, state: .broken, unit: .bytes, topology: "logical")
            sample.errors = ["replication slot '\(slot)' of subscription '\(subscription)' is missing on the primary"]
            return sample
        }
        let behind = max(0, flush - confirmed)
        var sample = Sample(time: now, state: .inSync, lagVolume: behind, unit: .bytes, position: confirmed, topology: "logical")
        sample.details = [
            "subscription": subscription,
            "slot": slot,
            "primary_flush_lsn": formatLSN(flush),
            "slot_confirmed_flush_lsn": formatLSN(confirmed),
            "subscription_enabled": String(status.enabled),
            "apply_worker": status.workerRunning ? "running" : "not running",
        ]
        if let walStatus = slotStatus.walStatus { sample.details["slot_wal_status"] = walStatus }
        if let age = status.lastMessageAge { sample.details["last_message_age_s"] = String(format: "%.1f", age) }
        if status.tablesNotReady > 0 { sample.details["tables_copying"] = String(status.tablesNotReady) }
        sample.lagSeconds = lagSeconds(applied: confirmed, upperBound: nil, into: &sample)

        var problems: [String] = []
        if !status.enabled {
            problems.append("subscription '\(subscription)' is disabled on the DR side")
        } else if !status.workerRunning {
            problems.append("subscription '\(subscription)' is enabled but its apply worker is not running (see the DR server's log)")
        } else if let age = status.lastMessageAge, age > Self.silentLinkSeconds {
            problems.append(String(format: "no message from the publisher for %.0f s: the stream is stalled", age))
        }
        if slotStatus.walStatus == "lost" {
            problems.append("slot '\(slot)' lost WAL it still needed: the subscription must be re-created")
        }
        return finish(&sample, behind: behind, paused: !status.enabled, problems: problems)
    }
}
