import Foundation
import PostgresClient
import SyncCore

/// Pause, resume, force full sync and drain, on either topology.
extension PostgresSource {
    public func pause() async throws {
        switch try await topology() {
        case .physical:
            try await run(.dr, "SELECT pg_wal_replay_pause()")
            try await awaitPauseState("paused", action: "pause")
        case let .logical(subscription, _):
            try await run(.dr, "ALTER SUBSCRIPTION \(try SQLText.quoteIdentifier(subscription)) DISABLE")
            try await awaitCondition("the apply worker of '\(subscription)' to stop") {
                try await !self.logicalStatus(subscription: subscription).workerRunning
            }
        case .independent:
            throw refuseIndependent(.pause)
        }
    }

    public func resume() async throws {
        switch try await topology() {
        case .physical:
            try await run(.dr, "SELECT pg_wal_replay_resume()")
            try await awaitPauseState("not paused", action: "resume")
        case let .logical(subscription, _):
            try await run(.dr, "ALTER SUBSCRIPTION \(try SQLText.quoteIdentifier(subscription)) ENABLE")
            try await awaitCondition("the apply worker of '\(subscription)' to start") {
                try await self.logicalStatus(subscription: subscription).workerRunning
            }
        case .independent:
            throw refuseIndependent(.resume)
        }
    }

    func awaitPauseState(_ wanted: String, action: String) async throws {
        try await awaitCondition("WAL replay to be '\(wanted)' after \(action)") {
            try await self.physicalStatus().pauseState == wanted
        }
    }

    func awaitCondition(_ what: String, _ condition: () async throws -> Bool) async throws {
        try await Poll.until(what, timeout: Self.confirmTimeout, condition)
    }

    @discardableResult
    public func forceFullSync() async throws -> String {
        switch try await topology() {
        case .physical:
            throw SyncError.unsupported(
                operation: .fullSync,
                reason: "a physical standby replays the primary's WAL and cannot re-copy data while it is a standby",
                remedy: recloneRemedy)
        case let .logical(subscription, _):
            try await resubscribe(subscription)
            return "every table was re-copied from the primary and replication is running again"
        case .independent:
            throw refuseIndependent(.fullSync)
        }
    }

    /// Re-copies every subscribed table: the subscription is dropped and created again with
    /// copy_data = true after its tables are emptied on the DR side, so the subscriber ends
    /// identical to the publisher and keeps replicating. Only replication state (the slot) changes
    /// on the primary; its data is never written.
    func resubscribe(_ subscription: String) async throws {
        let info = try await run(.dr, """
            SELECT s.subconninfo, array_to_string(s.subpublications, ','), s.subbinary::text, s.substream::text
            FROM pg_subscription s
            WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            """, [subscription])
        guard info.count == 1, let conninfo = info.rows[0][0], let publications = info.rows[0][1] else {
            throw SyncError.invalidState("cannot read subscription '\(subscription)' (reading its connection string needs superuser)")
        }
        let tables = try await run(.dr, """
            SELECT format('%I.%I', n.nspname, c.relname) FROM pg_subscription_rel r
            JOIN pg_class c ON c.oid = r.srrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE r.srsubid = (SELECT oid FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()))
            ORDER BY 1
            """, [subscription]).rows.compactMap { $0[0] }
        let name = try SQLText.quoteIdentifier(subscription)
        let publicationList = try publications.split(separator: ",").map { try SQLText.quoteIdentifier(String($0)) }.joined(separator: ", ")
        let options = "copy_data = true, binary = \(info.rows[0][2] == "true"), streaming = \(info.rows[0][3] == "true")"
        let create = "CREATE SUBSCRIPTION \(name) CONNECTION \(try SQLText.quoteLiteral(conninfo)) PUBLICATION \(publicationList) WITH (\(options))"

        try await run(.dr, "ALTER SUBSCRIPTION \(name) DISABLE")
        try await run(.dr, "DROP SUBSCRIPTION \(name)")
        do {
            if !tables.isEmpty { try await run(.dr, "TRUNCATE \(tables.joined(separator: ", "))") }
            try await run(.dr, create)
        } catch {
            let masked = create.replacingOccurrences(of: #"password=\S+"#, with: "password=***", options: .regularExpression)
            throw SyncError.failed("full sync of '\(subscription)' dropped the subscription but could not re-create it (\(error)); re-create it by hand: \(masked)")
        }
        // The initial copy runs per table; the subscription is usable once every table is ready.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(3600)
        while true {
            let pending = try await run(.dr, """
                SELECT count(*) FILTER (WHERE r.srsubstate <> 'r') AS pending, count(*) AS total
                FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = $1
                """, [subscription])
            if pending.value(0, "pending") == "0", pending.value(0, "total") != "0" || tables.isEmpty { break }
            guard clock.now < deadline else {
                throw SyncError.timeout("full sync of '\(subscription)': the initial copy has not finished after an hour (\(pending.value(0, "pending") ?? "?") tables pending)")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        _ = try await waitForDrain(timeout: .seconds(120))
    }

    /// DR side's applied position: replay LSN (physical) or the slot's confirmed flush LSN (logical).
    func appliedPosition(_ topology: Topology) async throws -> (position: Int64, paused: String?) {
        switch topology {
        case .physical:
            let status = try await physicalStatus()
            let paused = status.pauseState == "not paused" ? nil : "WAL replay on the DR standby is \(status.pauseState)"
            return (status.replayPosition, paused)
        case let .logical(subscription, slot):
            let status = try await logicalStatus(subscription: subscription)
            guard let confirmed = try await slotStatus(slot: slot)?.confirmedPosition else {
                throw SyncError.invalidState("replication slot '\(slot)' is missing on the primary")
            }
            return (confirmed, status.enabled ? nil : "subscription '\(subscription)' is disabled")
        case .independent:
            throw SyncError.invalidState("an independent copy has no replication position")
        }
    }

    public func waitForDrain(timeout: Duration) async throws -> DrainResult {
        let topology = try await topology()
        if topology == .independent { return try await drainIndependent(timeout: timeout) }
        if let paused = try await appliedPosition(topology).paused {
            throw SyncError.invalidState("cannot drain: \(paused); resume replication first")
        }
        return try await waitUntilApplied(try await primaryFlushPosition(), topology: topology, timeout: timeout, purpose: "drain")
    }

    /// Waits until the DR side has applied the primary's WAL up to `target`. A check's round stops
    /// waiting once the applied position has not moved over 3 polls (a drain waits its whole timeout).
    func waitUntilApplied(_ target: Int64, topology: Topology, timeout: Duration, purpose: String,
                          stopWhenStalled: Bool = false) async throws -> DrainResult {
        // No position to wait for: a short heartbeat drain where there is one (the copying tool
        // may run only now and then), else the re-check runs at once.
        if topology == .independent {
            guard options.heartbeatTable != nil,
                  let drained = try? await drainIndependent(timeout: min(timeout, .seconds(5))) else {
                return DrainResult(target: "-", reached: "-", waitedSeconds: 0)
            }
            return drained
        }
        let started = ContinuousClock.now
        var watch = CatchUpWatch(pollIntervalSeconds: config.pollIntervalSeconds)
        var applied: Int64 = 0
        return try await Poll.first(timeout: timeout, timedOut: {
            "\(purpose) timed out after \(timeout): the DR side is at \(formatLSN(applied)), the target is \(formatLSN(target)), \(target - applied) bytes remain"
        }) {
            let (position, paused) = try await appliedPosition(topology)
            applied = position
            if applied >= target {
                return DrainResult(target: formatLSN(target), reached: formatLSN(applied), waitedSeconds: started.duration(to: .now).seconds)
            }
            if let paused {
                throw SyncError.invalidState("\(purpose) stopped: \(paused); \(target - applied) bytes remain to \(formatLSN(target))")
            }
            if stopWhenStalled, watch.stalled(at: [applied]) {
                throw SyncError.invalidState("\(watch.stallNote): it is at \(formatLSN(applied)), \(target - applied) bytes short of \(formatLSN(target))")
            }
            return nil
        }
    }
}
