import Foundation
import RedisClient
import SyncCore

/// A Redis primary and its DR instance: a native replica (REPLICAOF) or an independent writable
/// instance kept in sync by another tool or by syncd's own full sync (config `mode`).
public actor RedisSource: SourceAdapter {
    public nonisolated let name: String
    public nonisolated let kind: SourceKind = .redis
    public nonisolated let volumeUnit: VolumeUnit = .bytes
    let config: SourceConfig
    let options: RedisOptions
    private var connections: [Side: RedisConnection] = [:]
    private var history = PositionHistory()
    /// What the latest resume or full sync observed (partial or full resync), shown in samples.
    private var lastResync: String?
    /// When syncd's own copy into an independent DR instance last finished.
    private var lastCopy: Date?
    /// The master each Sentinel-managed side resolved to last, and the latest move seen.
    private var masters: [Side: ResolvedMaster] = [:]
    private var failovers: [Side: String] = [:]
    /// The last master each side resolved to, kept through failed resolutions (a failover in
    /// progress), so the move is recorded once the sentinels agree again.
    private var lastResolved: [Side: ResolvedMaster] = [:]
    /// Connections to each cluster side's masters (see ClusterPair.swift).
    var clusterSides: [Side: RedisSide] = [:]

    /// Nothing heard from the primary for this long on an "up" link means it is stalled
    /// (a master PINGs its replicas every 10 s by default).
    static let silentLinkSeconds = 30
    static let confirmTimeout: Duration = .seconds(10)
    static let fullSyncTimeout: Duration = .seconds(1800)

    public init(config: SourceConfig) {
        name = config.name
        self.config = config
        options = config.redis ?? RedisOptions(mode: .replica)
    }

    public func capabilities() async -> Set<SourceOperation> {
        switch options.mode {
        case .replica: [.pause, .resume, .fullSync, .drain, .check]
        case .independent: options.heartbeatKey == nil ? [.fullSync, .check, .reconcile] : [.fullSync, .drain, .check, .reconcile]
        }
    }

    public func shutdown() async {
        connections = [:]
        clusterSides = [:]
    }

    // MARK: connections

    /// The configured endpoint; for a Sentinel-managed side, the master it resolved to last.
    func endpoint(_ side: Side) -> EndpointConfig {
        let configured = side == .primary ? config.primary : config.dr
        guard configured.sentinel != nil, let master = masters[side] else { return configured }
        var resolved = configured
        (resolved.host, resolved.port, resolved.options) = (master.host, master.port, nil)
        return resolved
    }

    /// Asks the sentinels of every Sentinel-managed side for its master now; a master that moved
    /// is recorded with the time it was seen, and connections to the old one are dropped.
    func resolveMasters() async throws {
        for side in [Side.primary, .dr] {
            let configured = side == .primary ? config.primary : config.dr
            guard let sentinel = configured.sentinel else { continue }
            let master: ResolvedMaster
            do {
                master = try await SentinelResolver.resolve(configured, sentinel, side: side)
            } catch {
                // Unknown is not the old master: nothing connects until the sentinels answer again.
                masters[side] = nil
                connections[side] = nil
                throw error
            }
            if let previous = lastResolved[side], previous.address != master.address || previous.configEpoch != master.configEpoch {
                let when = ISO8601DateFormatter().string(from: Date())
                failovers[side] = "the master of '\(sentinel.masterName)' moved from \(previous.address) to \(master.address) (config epoch \(previous.configEpoch) -> \(master.configEpoch)), seen at \(when)"
            }
            if masters[side]?.address != master.address { connections[side] = nil }
            masters[side] = master
            lastResolved[side] = master
        }
    }

    /// The servers a check compares where Sentinel can move the master; nil without Sentinel.
    var topologyStamp: String? {
        let parts = [Side.primary, .dr].compactMap { side in masters[side].map { "\(side == .primary ? "primary" : "DR") \($0.stamp)" } }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// The config with every Sentinel-managed side replaced by its resolved master, for the
    /// check, copy and reconcile paths that open connections of their own.
    func resolvedConfig() async throws -> SourceConfig {
        try await resolveMasters()
        var resolved = config
        resolved.primary = endpoint(.primary)
        resolved.dr = endpoint(.dr)
        return resolved
    }

    func sideLabel(_ side: Side) -> String {
        describeSide(side, endpoint(side))
    }

    /// Opens a connection to one side and database; failures name the side.
    static func open(_ endpoint: EndpointConfig, side: Side, database: Int, commandTimeout: Duration = .seconds(5)) async throws -> RedisConnection {
        if endpoint.cluster != nil {
            // One node of a cluster holds a share of the keys: reading it alone would miss the rest.
            throw SyncError.failed("\(describeSide(side, endpoint)) is a cluster: it is read through its slot map, not as one server")
        }
        if let sentinel = endpoint.sentinel {
            throw SyncError.unreachable(side: describeSide(side, endpoint), message: "the sentinels have not named a master of '\(sentinel.masterName)' yet")
        }
        do {
            return try await RedisConnection.connect(RedisConnectionParameters(endpoint: endpoint, database: database, commandTimeout: commandTimeout))
        } catch let error as RedisError {
            throw SyncError.unreachable(side: describeSide(side, endpoint), message: error.message)
        }
    }

    private func connection(_ side: Side) async throws -> RedisConnection {
        if let existing = connections[side], !existing.isBroken { return existing }
        connections[side] = nil
        let connection = try await Self.open(endpoint(side), side: side, database: options.databases[0],
                                             commandTimeout: .milliseconds(Int64(min(3, config.pollTimeoutSeconds) * 1000)))
        connections[side] = connection
        return connection
    }

    /// One command on one side; a lost connection is dropped so the next call reconnects.
    @discardableResult
    func run(_ side: Side, _ command: RedisCommand) async throws -> RedisValue {
        let connection = try await connection(side)
        do {
            let reply = try await connection.command(command)
            if case let .error(message) = reply {
                throw SyncError.failed("\(sideLabel(side)): \(String(decoding: command.arguments[0], as: UTF8.self)) failed: \(message)")
            }
            return reply
        } catch let error as RedisError {
            if connections[side] === connection { connections[side] = nil }
            throw SyncError.unreachable(side: sideLabel(side), message: error.message)
        }
    }

    func info(_ side: Side, _ section: String) async throws -> [String: String] {
        guard let text = try await run(side, RedisCommand("INFO", section)).text else {
            throw SyncError.failed("\(sideLabel(side)): INFO \(section) returned no text")
        }
        return parseInfo(text)
    }

    func replication(_ side: Side) async throws -> ReplicationInfo {
        do {
            return try ReplicationInfo(fields: try await info(side, "replication"))
        } catch let error as RedisError {
            throw SyncError.failed("\(sideLabel(side)): \(error.message)")
        }
    }

    // MARK: sampling

    public func sample() async -> Sample {
        let now = Date()
        var sample = Sample(time: now, state: .inSync, unit: .bytes, topology: options.mode.rawValue)
        do {
            try await resolveMasters()
        } catch {
            sample.state = if case SyncError.unreachable = error { .unreachable } else { .broken }
            sample.errors = ["\(error)"]
            describeMasters(&sample)
            return sample
        }
        describeMasters(&sample)
        if isClusterPair { return await sampleClusterPair(&sample, now: now) }
        // The DR side first: the primary's offset read afterwards can only be ahead of it, so the
        // volume behind errs on the high side, never shows a false zero.
        let dr: ReplicationInfo?
        var drError: String?
        do {
            dr = try await replication(.dr)
        } catch {
            dr = nil
            drError = "\(error)"
        }
        let primary: ReplicationInfo
        do {
            primary = try await replication(.primary)
            if primary.isReplica {
                throw SyncError.invalidState("the configured primary \(endpoint(.primary).host):\(endpoint(.primary).port) is itself a replica (of \(primary.masterHost ?? "?"):\(primary.masterPort ?? 0))")
            }
            history.record(position: primary.masterReplOffset, at: now)
        } catch let SyncError.unreachable(side, message) {
            sample.state = .unreachable
            sample.errors = ["\(side) is unreachable: \(message)"] + (drError.map { [$0] } ?? [])
            return sample
        } catch {
            sample.state = .broken
            sample.errors = ["\(error)"]
            return sample
        }
        let heartbeat = await heartbeatLag(now: now)
        if heartbeat != nil { sample.details["heartbeat_key"] = options.heartbeatKey }

        switch options.mode {
        case .replica:
            return sampleReplica(&sample, primary: primary, dr: dr, drError: drError, heartbeat: heartbeat)
        case .independent:
            return sampleIndependent(&sample, dr: dr, drError: drError, heartbeat: heartbeat)
        }
    }

    /// Where Sentinel-managed sides point now, and the latest failover seen.
    private func describeMasters(_ sample: inout Sample) {
        for side in [Side.primary, .dr] {
            let prefix = side == .primary ? "primary" : "dr"
            if let master = masters[side] {
                sample.details["\(prefix)_master"] = "\(master.address) (sentinel config epoch \(master.configEpoch); \(master.answered) of \(master.asked) sentinels answered)"
            }
            if let failover = failovers[side] { sample.details["\(prefix)_failover"] = failover }
        }
        sample.topologyStamp = topologyStamp
    }

    private func sampleReplica(_ sample: inout Sample, primary: ReplicationInfo, dr: ReplicationInfo?, drError: String?,
                               heartbeat: HeartbeatLag?) -> Sample {
        sample.details["primary_repl_offset"] = String(primary.masterReplOffset)
        let acknowledged = primary.replica(port: endpoint(.dr).port, host: endpoint(.dr).host)
        if let acknowledged {
            sample.details["primary_view_of_dr"] = "\(acknowledged.state), acked offset \(acknowledged.offset), \(acknowledged.lag) s since its last ack"
        }
        if let lastResync { sample.details["last_resync"] = lastResync }
        guard let dr else {
            // A hung or unreachable DR: the primary still knows what it acknowledged.
            sample.state = .unreachable
            sample.errors = [drError ?? "DR is unreachable"]
            if let acknowledged { sample.lagVolume = max(0, primary.masterReplOffset - acknowledged.offset) }
            return sample
        }
        guard dr.isReplica else {
            sample.state = .broken
            sample.errors = ["the DR instance is a master, not a replica: it was promoted or REPLICAOF NO ONE was run; it no longer follows the primary (force a full sync to re-attach it; its own writes will be replaced)"]
            return sample
        }
        var problems: [String] = []
        var paused = false
        if dr.isParkedBySyncd {
            paused = true
            problems.append("replication to the DR replica is paused by syncd (parked on 127.0.0.1:0); resume re-attaches it")
        } else if dr.linkUp, dr.replicationID != primary.replicationID {
            problems.append("the DR replica follows \(dr.masterHost ?? "?"):\(dr.masterPort ?? 0), whose replication ID differs from the configured primary's: it replicates from another server")
        } else if dr.syncInProgress {
            sample.details["full_sync"] = fullSyncProgress(dr)
        } else if !dr.linkUp {
            problems.append("the DR replica's link to \(dr.masterHost ?? "?"):\(dr.masterPort ?? 0) is down" + (dr.linkDownSinceSeconds.map { " for \($0) s" } ?? ""))
        } else if let silent = dr.lastIOSecondsAgo, silent > Self.silentLinkSeconds {
            problems.append("no data from the primary for \(silent) s: the replication link is stalled")
        }
        let applied = max(dr.appliedOffset ?? 0, acknowledged?.offset ?? 0)
        let behind = dr.syncInProgress ? nil : max(0, primary.masterReplOffset - applied)
        sample.lagVolume = behind
        sample.position = dr.appliedOffset
        sample.details["dr_applied_offset"] = dr.appliedOffset.map(String.init) ?? "unknown"
        sample.details["link"] = dr.linkUp ? "up" : "down"
        if let io = dr.lastIOSecondsAgo { sample.details["last_io_seconds_ago"] = String(io) }

        if let heartbeat {
            sample.lagSeconds = heartbeat.seconds
            sample.details["lag_seconds_basis"] = heartbeat.basis
        } else if dr.syncInProgress {
            sample.lagSeconds = nil
            sample.details["lag_seconds_basis"] = "unknown while a full sync runs"
        } else {
            switch history.lag(applied: applied, now: sample.time) {
            case let .measured(seconds):
                sample.lagSeconds = seconds
                sample.details["lag_seconds_basis"] = "primary replication-offset history"
            case let .atLeast(seconds):
                sample.lagSeconds = seconds
                sample.details["lag_seconds_basis"] = "lower bound: behind every offset seen since syncd started"
            }
        }
        sample.errors = problems
        if paused {
            sample.state = .paused
        } else if !problems.isEmpty {
            sample.state = .broken
        } else if dr.syncInProgress {
            sample.state = .syncing
        } else if let lag = sample.lagSeconds, lag > config.policy.lagBudgetSeconds {
            sample.state = .lagging
        } else {
            sample.state = (behind ?? 0) > 0 ? .syncing : .inSync
        }
        return sample
    }

    private func fullSyncProgress(_ dr: ReplicationInfo) -> String {
        let read = dr.syncReadBytes ?? 0
        if let total = dr.syncTotalBytes, total > 0 {
            return String(format: "in progress: %lld of %lld bytes (%.0f%%)", read, total, Double(read) * 100 / Double(total))
        }
        return "in progress: \(read) bytes received (diskless transfer, total unknown)"
    }

    private func sampleIndependent(_ sample: inout Sample, dr: ReplicationInfo?, drError: String?, heartbeat: HeartbeatLag?) -> Sample {
        if let lastCopy { sample.details["last_full_copy"] = ISO8601DateFormatter().string(from: lastCopy) }
        guard let dr else {
            sample.state = .unreachable
            sample.errors = [drError ?? "DR is unreachable"]
            return sample
        }
        guard !dr.isReplica else {
            sample.state = .broken
            sample.errors = ["the DR instance is a replica of \(dr.masterHost ?? "?"):\(dr.masterPort ?? 0), but this source is configured as mode: independent"]
            return sample
        }
        // Writes applied to a writable DR instance advance its own replication offset.
        sample.position = dr.masterReplOffset
        judgeByHeartbeat(&sample, heartbeat, unshared: "an independent DR instance shares no replication offsets with the primary",
                         drSide: "the DR instance")
        return sample
    }

    /// Lag and state of a pair with no shared replication position: from the heartbeat key, or
    /// unknown with the reason (`unshared` says why no position is shared; `drSide` names the DR side).
    func judgeByHeartbeat(_ sample: inout Sample, _ heartbeat: HeartbeatLag?, unshared: String, drSide: String) {
        guard let heartbeat else {
            sample.state = .syncing
            sample.details["lag_seconds_basis"] = "unknown"
            sample.errors = [options.heartbeatKey == nil
                ? "lag cannot be measured: \(unshared); set heartbeat_key to measure it"
                : "the heartbeat key is not on \(drSide) yet: whatever keeps it in sync has not copied it"]
            return
        }
        sample.lagSeconds = heartbeat.seconds
        sample.details["lag_seconds_basis"] = heartbeat.basis
        sample.state = heartbeat.seconds > config.policy.lagBudgetSeconds ? .lagging : (heartbeat.seconds > 0 ? .syncing : .inSync)
    }

    // MARK: heartbeat

    struct HeartbeatLag {
        var seconds: Double
        var basis: String
    }

    /// pt-heartbeat for Redis: the primary's key holds the time syncd last wrote it (ms since the
    /// epoch); the DR copy of it says how old the DR side's view of the primary is. Reads come
    /// before the write, so a DR side holding the latest written value counts as zero lag.
    func heartbeatLag(now: Date) async -> HeartbeatLag? {
        guard let key = options.heartbeatKey else { return nil }
        let onPrimary = try? await run(.primary, RedisCommand("GET", key), key: key).text.flatMap { Int64($0) }
        let onDR = try? await run(.dr, RedisCommand("GET", key), key: key).text.flatMap { Int64($0) }
        let nowMs = Int64(now.timeIntervalSince1970 * 1000)
        // The one write to a primary; only the instance holding the lease makes it.
        if WriteFence.shared.allows() { _ = try? await run(.primary, RedisCommand("SET", key, String(nowMs)), key: key) }
        guard let onDR = onDR ?? nil else { return nil }
        if let onPrimary = onPrimary ?? nil, onPrimary == onDR {
            return HeartbeatLag(seconds: 0, basis: "heartbeat key: DR holds the primary's latest value")
        }
        return HeartbeatLag(seconds: max(0, Double(nowMs - onDR) / 1000), basis: "heartbeat key: age of the DR copy")
    }

    // MARK: control

    private func requireReplicaMode(_ operation: SourceOperation) throws {
        guard options.mode == .replica else {
            throw SyncError.unsupported(
                operation: operation,
                reason: "this DR instance is independent: syncd does not drive the tool that keeps it in sync",
                remedy: "\(operation == .pause ? "pause" : "resume") that tool (e.g. RedisShake) directly")
        }
    }

    public func pause() async throws {
        try requireReplicaMode(.pause)
        try await resolveMasters()
        let dr = try await replication(.dr)
        guard dr.isReplica else {
            throw SyncError.invalidState("the DR instance is not a replica (role master): there is no replication to pause")
        }
        guard !dr.isParkedBySyncd else { throw SyncError.invalidState("replication to the DR replica is already paused") }
        // Port 0 refuses every connect at once: the replica stays read-only and keeps its replication
        // ID and offset, so resume can continue with a partial resync.
        try await run(.dr, RedisCommand("REPLICAOF", "127.0.0.1", "0"))
        try await confirm("the DR replica to report its link parked") { try await self.replication(.dr).isParkedBySyncd }
    }

    public func resume() async throws {
        try requireReplicaMode(.resume)
        try await resolveMasters()
        let dr = try await replication(.dr)
        guard dr.isParkedBySyncd else {
            if !dr.isReplica {
                throw SyncError.invalidState("the DR instance is a master, not a replica paused by syncd; re-attaching it would replace its data: use full sync if that is what you want")
            }
            throw SyncError.invalidState("replication to the DR replica is not paused")
        }
        let before = try await syncCounters()
        try await run(.dr, RedisCommand("REPLICAOF", endpoint(.primary).host, String(endpoint(.primary).port)))
        try await confirm("the DR replica's link to come up") {
            let info = try await self.replication(.dr)
            return info.linkUp && !info.syncInProgress
        }
        let after = try await syncCounters()
        lastResync = describeResync(before: before, after: after, action: "resume")
    }

    struct SyncCounters {
        var full: Int64
        var partialOK: Int64
    }

    private func syncCounters() async throws -> SyncCounters {
        let stats = try await info(.primary, "stats")
        return SyncCounters(full: stats["sync_full"].flatMap { Int64($0) } ?? 0,
                            partialOK: stats["sync_partial_ok"].flatMap { Int64($0) } ?? 0)
    }

    private func describeResync(before: SyncCounters, after: SyncCounters, action: String) -> String {
        let stamp = ISO8601DateFormatter().string(from: Date())
        if after.full > before.full { return "\(action) at \(stamp): full resync (primary sync_full \(before.full) -> \(after.full))" }
        if after.partialOK > before.partialOK { return "\(action) at \(stamp): partial resync (primary sync_partial_ok \(before.partialOK) -> \(after.partialOK))" }
        return "\(action) at \(stamp): link up, resync kind not visible in the primary's counters"
    }

    /// Polls until `condition` holds, or fails with what it was waiting for.
    private func confirm(_ what: String, timeout: Duration = RedisSource.confirmTimeout,
                         _ condition: () async throws -> Bool) async throws {
        try await Poll.until(what, timeout: timeout, condition)
    }

    @discardableResult
    public func forceFullSync() async throws -> String {
        let resolved = try await resolvedConfig()
        switch options.mode {
        case .replica:
            // REPLICAOF NO ONE gives the replica a new replication ID, so the primary cannot accept
            // a partial resync from it: re-attaching always transfers a full RDB snapshot.
            let before = try await syncCounters()
            try await run(.dr, RedisCommand("REPLICAOF", "NO", "ONE"))
            try await run(.dr, RedisCommand("REPLICAOF", endpoint(.primary).host, String(endpoint(.primary).port)))
            try await confirm("the full sync to finish", timeout: Self.fullSyncTimeout) {
                let info = try await self.replication(.dr)
                let counters = try await self.syncCounters()
                return info.linkUp && !info.syncInProgress && counters.full > before.full
            }
            lastResync = describeResync(before: before, after: try await syncCounters(), action: "full sync")
            return "the replica made a full resync from the primary (a new RDB snapshot) and is streaming again"
        case .independent:
            let started = Date()
            try await RedisCopier(source: name, config: resolved).copyEverything()
            lastCopy = started
            return "every key of the configured databases was copied from the primary (DUMP/RESTORE) and keys only on the DR side were deleted"
        }
    }

    public func waitForDrain(timeout: Duration) async throws -> DrainResult {
        try await resolveMasters()
        return try await drain(timeout: timeout)
    }

    /// A check's round stops waiting once the replica's offset has not moved over 3 polls.
    func drain(timeout: Duration, stopWhenStalled: Bool = false) async throws -> DrainResult {
        let clock = ContinuousClock()
        let start = clock.now
        var watch = CatchUpWatch(pollIntervalSeconds: config.pollIntervalSeconds)
        switch options.mode {
        case .replica:
            let dr = try await replication(.dr)
            if dr.isParkedBySyncd { throw SyncError.invalidState("replication to the DR replica is paused: it cannot drain; resume it first") }
            guard dr.isReplica else { throw SyncError.invalidState("the DR instance is not a replica: there is no replication stream to drain") }
            let target = try await replication(.primary).masterReplOffset
            var reached = dr.appliedOffset ?? 0
            return try await Poll.first(every: .milliseconds(50), timeout: timeout, timedOut: {
                "the DR replica did not reach the primary's offset \(target) within \(timeout.seconds) s: \(max(0, target - reached)) bytes still behind (applied \(reached))"
            }) {
                let info = try await replication(.dr)
                reached = info.appliedOffset ?? 0
                if reached >= target {
                    return DrainResult(target: String(target), reached: String(reached), waitedSeconds: (clock.now - start).seconds)
                }
                if info.isParkedBySyncd { throw SyncError.invalidState("replication was paused while waiting for the drain") }
                if stopWhenStalled, watch.stalled(at: [reached]) {
                    throw SyncError.invalidState("\(watch.stallNote): applied \(reached), \(max(0, target - reached)) bytes short of \(target)")
                }
                return nil
            }
        case .independent:
            guard let key = options.heartbeatKey else {
                throw SyncError.unsupported(operation: .drain, reason: "an independent DR instance shares no replication position with the primary",
                                            remedy: "set heartbeat_key: drain then waits until the DR side holds a heartbeat written at the call")
            }
            let marker = Int64(Date().timeIntervalSince1970 * 1000)
            try await run(.primary, RedisCommand("SET", key, String(marker)), key: key)
            var reached: Int64 = 0
            return try await Poll.first(timeout: timeout, timedOut: {
                "the DR instance did not receive the heartbeat written at the call within \(timeout.seconds) s (it holds \(reached), wanted \(marker))"
            }) {
                reached = (try await run(.dr, RedisCommand("GET", key), key: key).text.flatMap { Int64($0) }) ?? 0
                if reached >= marker {
                    return DrainResult(target: "heartbeat \(marker)", reached: "heartbeat \(reached)", waitedSeconds: (clock.now - start).seconds)
                }
                // The poll loop rewrites the heartbeat every interval: a copy that stays put means
                // nothing copies to the DR instance continuously (a periodic full sync is no stream).
                if watch.stalled(at: [reached]) {
                    throw SyncError.invalidState("nothing copies to the DR instance continuously: its heartbeat copy stayed at \(reached) over \(CatchUpWatch.stallPolls) polls (\(Gate.format(watch.stallAfter.seconds)) s), so it cannot drain to the primary's position; it is as fresh as its last full copy")
                }
                return nil
            }
        }
    }

    // MARK: check and reconcile

    public func check(_ checkOptions: CheckOptions, progress: @escaping @Sendable (CheckProgress) -> Void) async throws -> CheckResult {
        let mode = options.mode
        let resolved = try await resolvedConfig()
        let stamp = topologyStamp
        var checker = RedisChecker(source: name, config: resolved, checkOptions: checkOptions,
                                   settle: { [self] in
                                       // Between rounds: let in-flight writes land on the DR side. A replica
                                       // that drained has them all; a paused one changes nothing, so only the
                                       // primary's writes need a moment; an independent instance is fed by
                                       // another tool, which gets a second.
                                       if mode == .replica {
                                           do {
                                               _ = try await self.drain(timeout: checkOptions.catchUpTimeout, stopWhenStalled: true)
                                               try await Task.sleep(for: .milliseconds(100))
                                           } catch {
                                               try await Task.sleep(for: .milliseconds(250))
                                           }
                                       } else {
                                           try await Task.sleep(for: .seconds(1))
                                       }
                                   })
        var result = try await CheckEngine.run(&checker, source: name, threshold: config.policy.ratioThreshold, options: checkOptions, progress: progress)
        result.topologyStamp = stamp
        if stamp != nil {
            // A failover during the check means its two halves may describe different servers.
            do {
                try await resolveMasters()
                if topologyStamp != stamp {
                    result.fail("the roles moved during the check (before: \(stamp ?? "?"); after: \(topologyStamp ?? "?")): run it again")
                }
            } catch {
                result.fail("the sentinels could not confirm the master after the check: \(error)")
            }
        }
        return result
    }

    private func requireWritableDR() throws {
        guard options.mode == .independent else {
            throw SyncError.unsupported(
                operation: .reconcile,
                reason: "the DR instance is a replica: it refuses writes (READONLY), and a writable replica would drop them at its next resync",
                remedy: "force a full sync (syncctl resync --source \(name)), which re-copies the whole dataset from the primary")
        }
    }

    public func planReconcile(from check: CheckResult) async throws -> ReconcilePlan {
        try requireWritableDR()
        return RedisCopier(source: name, config: try await resolvedConfig()).plan(from: check)
    }

    public func applyReconcile(_ plan: ReconcilePlan) async throws -> ReconcileOutcome {
        try requireWritableDR()
        return try await RedisCopier(source: name, config: try await resolvedConfig()).apply(plan)
    }
}
