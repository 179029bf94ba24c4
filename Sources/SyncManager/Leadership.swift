import Foundation
import Logging
import Metrics
import SyncCore

/// Several instances sharing a journal: the lease store, who this one is, and the lease's length.
public struct LeadershipSettings: Sendable {
    public var store: any LeaseStore
    public var instance: InstanceIdentity
    public var ttlSeconds: Double

    public init(store: any LeaseStore, instance: InstanceIdentity, ttlSeconds: Double) {
        self.store = store
        self.instance = instance
        self.ttlSeconds = ttlSeconds
    }
}

/// What this instance knows of the lease and the other instances, for status and the gate.
actor LeadershipState {
    var lease: LeaseState?
    var lastError: String?
    var instances: [InstanceRecord] = []
    /// The newest check entry applied per source (followers read the leader's checks).
    var appliedChecks: [String: Int64] = [:]

    func update(lease: LeaseState?, error: String?) {
        self.lease = lease
        lastError = error
    }

    func update(instances: [InstanceRecord]) { self.instances = instances }

    func applied(_ source: String) -> Int64? { appliedChecks[source] }
    func setApplied(_ source: String, _ id: Int64) { appliedChecks[source] = id }
}

/// A leader-only operation asked of an instance that does not hold the lease.
public struct NotLeaderError: OperationError {
    public var leader: String?
    public var leaderURL: String?
    public var reason: String?
    public init(leader: String?, leaderURL: String?, reason: String?) {
        self.leader = leader
        self.leaderURL = leaderURL
        self.reason = reason
    }
    public var statusCode: Int { 503 }
    public var code: String { "not_leader" }
    public var remedy: String? {
        leaderURL.map { "send it to the leader at \($0)" } ?? "retry once an instance holds the lease (syncctl status lists the instances)"
    }
    public var description: String {
        if let reason { return "this instance cannot act as leader: \(reason)" }
        return "this instance is a follower" + (leader.map { "; the leader is \($0)" } ?? "; no instance holds the lease")
    }
}

/// The shared journal cannot be read or written: the gate fails closed.
public struct JournalUnavailableError: OperationError {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var statusCode: Int { 503 }
    public var code: String { "journal_unavailable" }
    public var remedy: String? { "bring the journal database back; syncd recovers by itself" }
    public var description: String { "the shared journal is unavailable, so no verdict can be given: \(reason)" }
}

extension SyncManager {
    /// Takes or renews the lease every third of its length, heartbeats this instance, and grants
    /// or revokes the write fence; a follower reads the leader's checks from the journal. Runs
    /// until cancelled, then gives the lease up.
    func runLeadership(_ settings: LeadershipSettings) async {
        let leaderGauge = Gauge(label: "syncd_leader", dimensions: [("instance", settings.instance.id)], factory: metricsFactory)
        var wasLeader = false
        let period = Duration.milliseconds(Int64(settings.ttlSeconds / 3 * 1000))
        while !Task.isCancelled {
            let sent = ContinuousClock.now
            do {
                let lease = try await settings.store.acquire(settings.instance, ttlSeconds: settings.ttlSeconds)
                if lease.isMine {
                    // Counted from before the renewal was sent, with a margin: the fence closes
                    // before the database lets anyone else take over.
                    fence.grant(token: lease.token, until: sent + .milliseconds(Int64(settings.ttlSeconds * 800)))
                } else {
                    fence.revoke()
                }
                await leadership.update(lease: lease, error: nil)
                try await settings.store.heartbeat(settings.instance, role: lease.isMine ? "leader" : "follower")
                // An instance silent for longer than a lease is gone, whatever its last word was.
                let instances = try await settings.store.instances().map { record -> InstanceRecord in
                    var record = record
                    if record.heartbeatAgeSeconds > settings.ttlSeconds { record.role = "unreachable (last seen as \(record.role))" }
                    return record
                }
                await leadership.update(instances: instances)
                if lease.isMine != wasLeader {
                    if wasLeader { await interruptLeaderWork(settings, reason: "the lease passed to \(lease.holder ?? "another instance")") }
                    wasLeader = lease.isMine
                    logger.notice(lease.isMine ? "this instance is the leader (fencing token \(lease.token))" : "this instance is a follower; the leader is \(lease.holder ?? "none")")
                    _ = try? await journal.append(kind: "service", source: nil, actor: settings.instance.id, action: lease.isMine ? "leader" : "follower",
                                                  outcome: "ok", detail: .object(["token": .number(Double(lease.token)),
                                                                                  "leader": lease.holder.map(JSONValue.string) ?? .null,
                                                                                  "site": .string(settings.instance.site)]))
                }
                if !lease.isMine { await applyNewerChecks() }
            } catch {
                // Without the database no instance may act as leader (fail closed). The reason is
                // on record before the fence closes, so a gate asked at once gives it.
                await leadership.update(lease: nil, error: "\(error)")
                fence.revoke()
                if wasLeader {
                    logger.warning("lost the lease: \(error)")
                    await interruptLeaderWork(settings, reason: "the lease could not be renewed: \(error)")
                }
                wasLeader = false
            }
            leaderGauge.record(fence.allows() ? 1 : 0)
            try? await Task.sleep(until: sent + period, clock: .continuous)
        }
        fence.revoke()
        leaderGauge.record(0)
        if wasLeader { await settings.store.release(settings.instance) }
    }

    /// A leader that lost the lease stops its cutover runs (they act on the servers); each ends
    /// cancelled in its own entries, and this entry says why they were interrupted. They are not
    /// resumed elsewhere: an operator starts a new run on the new leader.
    func interruptLeaderWork(_ settings: LeadershipSettings, reason: String) async {
        let runs = await cutoverRuns.board.cancelAll()
        guard !runs.isEmpty else { return }
        logger.warning("interrupted \(runs.count) cutover run(s): \(reason)")
        _ = try? await journal.append(kind: "cutover", source: nil, actor: settings.instance.id, action: "interrupted", outcome: "interrupted",
                                      detail: .object(["runs": .array(runs.map(JSONValue.string)), "reason": .string(reason)]))
    }

    /// A follower's view of the checks: whatever the leader journaled since the last look.
    func applyNewerChecks() async {
        for monitor in monitors {
            let name = monitor.config.name
            guard let newest = try? await journal.recent(limit: 1, source: name, kind: "check").first,
                  newest.id != (await leadership.applied(name)) else { continue }
            await restoreLatestCheck(monitor)
            await leadership.setApplied(name, newest.id)
        }
    }

    /// Runs leader-only background work (the mirror, the managed copy) while this instance may
    /// write, and stops it as soon as it may not.
    func whileLeader(_ work: @escaping @Sendable () async -> Void) async {
        while !Task.isCancelled {
            guard fence.allows() else {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await work() }
                while !Task.isCancelled, fence.allows() {
                    try? await Task.sleep(for: .milliseconds(200))
                }
                group.cancelAll()
            }
        }
    }

    /// Refuses a leader-only operation on a follower, naming the leader.
    func requireLeader() async throws {
        guard !fence.allows() else { return }
        let state = await leadership.lease
        let lastError = await leadership.lastError
        throw NotLeaderError(leader: state?.holder, leaderURL: state?.holderURL, reason: noLease ?? lastError)
    }

    /// The gate fails closed while the shared journal cannot be reached.
    func requireJournal() async throws {
        guard leadershipSettings != nil, let error = await leadership.lastError else { return }
        throw JournalUnavailableError(reason: error)
    }

    /// Every instance sharing the journal, as the last heartbeat round saw them (nil: one instance).
    public func cluster() async -> ClusterStatus? {
        guard let settings = leadershipSettings else { return nil }
        let lease = await leadership.lease
        return ClusterStatus(instance: settings.instance.id, role: fence.allows() ? "leader" : "follower", leader: lease?.holder,
                             leaderURL: lease?.holderURL, fencingToken: lease?.token, journalError: await leadership.lastError,
                             instances: await leadership.instances)
    }
}

/// `/v1/status`'s view of the instances sharing a journal.
public struct ClusterStatus: Sendable, Codable {
    public var instance: String
    public var role: String
    public var leader: String?
    public var leaderURL: String?
    public var fencingToken: Int64?
    public var journalError: String?
    public var instances: [InstanceRecord]
}
