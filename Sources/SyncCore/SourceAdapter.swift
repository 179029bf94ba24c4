import Foundation

/// One replicated data store (a primary and its DR copy), behind a uniform contract.
/// Adapters never throw for an unreachable server from `sample()`: they report it as a state,
/// so the poll loop keeps a history of outages too.
public protocol SourceAdapter: Sendable {
    var name: String { get }
    var kind: SourceKind { get }
    /// What the source's lag volume and throughput count.
    var volumeUnit: VolumeUnit { get }
    /// What the detected topology allows; the manager refuses the rest with a clear error.
    func capabilities() async -> Set<SourceOperation>
    func sample() async -> Sample
    func pause() async throws
    func resume() async throws
    /// Re-copies the DR side from the primary; returns what was done, in the source's own words.
    func forceFullSync() async throws -> String
    /// Blocks until the DR side has caught up with the primary's position at the moment of the call.
    func waitForDrain(timeout: Duration) async throws -> DrainResult
    /// Count + hash consistency check of the primary against the DR side.
    func check(_ options: CheckOptions, progress: @escaping @Sendable (CheckProgress) -> Void) async throws -> CheckResult
    /// The exact changes that would make the DR side match the primary for a check's differences.
    func planReconcile(from check: CheckResult) async throws -> ReconcilePlan
    /// The same, asked for by an operator: `deleteExtras` false keeps what exists only on the DR
    /// side where the source treats deleting it as opt-in (object stores); others ignore it.
    func planReconcile(from check: CheckResult, deleteExtras: Bool) async throws -> ReconcilePlan
    /// Applies a plan on the DR side only, then re-verifies what it touched.
    func applyReconcile(_ plan: ReconcilePlan) async throws -> ReconcileOutcome
    /// Releases connections; the adapter may be used again afterwards (it reconnects).
    func shutdown() async
    /// Work the daemon runs for this source until cancelled (e.g. Kafka's built-in mirror).
    /// `paused`: the replication it runs starts paused, because the journal's last word on it was
    /// a pause (an operator's, or a cutover's `pause_after`): a restarted syncd or a new leader
    /// must not copy to a DR side that was stopped on purpose.
    func runBackground(paused: Bool) async
}

extension SourceAdapter {
    public func runBackground(paused: Bool) async {}
    public func runBackground() async { await runBackground(paused: false) }

    public func check(_ options: CheckOptions, progress: @escaping @Sendable (CheckProgress) -> Void) async throws -> CheckResult {
        throw SyncError.unsupported(operation: .check, reason: "\(kind.rawValue) sources have no consistency check in this version",
                                    remedy: "verify this source by other means")
    }

    public func planReconcile(from check: CheckResult) async throws -> ReconcilePlan {
        throw SyncError.unsupported(operation: .reconcile, reason: "\(kind.rawValue) sources cannot reconcile in this version",
                                    remedy: "repair the DR copy by other means")
    }

    public func planReconcile(from check: CheckResult, deleteExtras: Bool) async throws -> ReconcilePlan {
        try await planReconcile(from: check)
    }

    public func applyReconcile(_ plan: ReconcilePlan) async throws -> ReconcileOutcome {
        throw SyncError.unsupported(operation: .reconcile, reason: "\(kind.rawValue) sources cannot reconcile in this version",
                                    remedy: "repair the DR copy by other means")
    }
}
