import Foundation

/// Decides when waiting for a DR side to catch up is pointless: its position (one number, or one
/// per partition) has not changed over `stallPolls` consecutive poll intervals while it is behind.
/// A check's re-check round then stops waiting and reports what differs as it stands.
public struct CatchUpWatch: Sendable {
    public static let stallPolls = 3
    public let pollInterval: Duration
    private var position: [Int64]?
    private var since: ContinuousClock.Instant?

    public init(pollIntervalSeconds: Double) {
        pollInterval = .milliseconds(Int64(max(0.05, pollIntervalSeconds) * 1000))
    }

    /// How long the position must stay put before the DR side counts as stalled.
    public var stallAfter: Duration { pollInterval * Self.stallPolls }

    /// Records the DR side's position as of `now`; true once it has been unchanged for `stallAfter`.
    public mutating func stalled(at position: [Int64], now: ContinuousClock.Instant = .now) -> Bool {
        guard let since, self.position == position else {
            self.position = position
            self.since = now
            return false
        }
        return since.duration(to: now) >= stallAfter
    }

    /// The note's words for a stall.
    public var stallNote: String {
        "the DR side's position did not change over \(Self.stallPolls) polls (\(Gate.format(stallAfter.seconds)) s) while behind, so the check stopped waiting for it"
    }
}

/// How a re-check round's wait for the DR side ended.
public enum CatchUpOutcome: Sendable, Equatable {
    case caughtUp
    /// The whole catch-up wait passed with the DR side still behind (but moving).
    case timedOut
    /// Paused, or stalled: waiting longer cannot help; the words say which.
    case cannotProgress(String)
}
