import Foundation
import SyncCore

/// Whether syncd's own replication of a source (the Kafka mirror, the S3 managed copy) is paused
/// is kept in the journal, not only in the process that paused it: a restarted syncd or a newly
/// elected leader reads it before copying anything, so a DR side paused after a cutover stays
/// paused. (PostgreSQL and Redis keep their paused state on the servers themselves.)
extension SyncManager {
    static let replicationKind = "replication"
    static let pausedState = "paused"
    static let runningState = "running"

    /// The state a successful control action leaves the replication in; nil when it changes none.
    static func replicationState(after action: ControlAction) -> String? {
        switch action {
        case .pause: pausedState
        case .resume, .fullSync: runningState  // a full sync resumes a paused copy
        case .drain: nil
        }
    }

    func journalReplicationState(_ state: String, source: String, actor: String) async throws {
        try await journal.append(kind: Self.replicationKind, source: source, actor: actor, action: state, outcome: "ok", detail: nil)
    }

    /// The journal's last word on the source's replication: paused or not. Until the journal
    /// answers nothing is copied (it retries); nil only when cancelled meanwhile.
    func replicationPausedOnRecord(_ source: String) async -> Bool? {
        var delay = 0.5
        while !Task.isCancelled {
            do {
                return try await journal.recent(limit: 1, source: source, kind: Self.replicationKind).first?.action == Self.pausedState
            } catch {
                logger.warning("cannot read from the journal whether replication of \(source) was paused; it starts once the journal answers: \(error)")
                try? await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 5)
            }
        }
        return nil
    }
}
