import Foundation

/// When did the primary pass each replication position (WAL byte, replication-stream offset)?
/// Recorded at every poll, so lag in seconds can be measured as "how long ago did the primary write
/// the oldest byte the DR side still lacks" rather than from replay timestamps, which grow on an idle primary.
public struct PositionHistory: Sendable {
    public struct Entry: Sendable, Equatable {
        public var position: Int64
        public var time: Date
    }

    public enum Lag: Equatable, Sendable {
        /// Measured from our own observations; accurate to one poll interval.
        case measured(Double)
        /// The DR side is behind everything observed so far; at least this many seconds.
        case atLeast(Double)
    }

    public private(set) var entries: [Entry] = []
    public let capacity: Int

    public init(capacity: Int = 4096) {
        self.capacity = max(2, capacity)
    }

    /// Keeps the first time each new position was seen; equal positions add nothing.
    public mutating func record(position: Int64, at time: Date) {
        if let last = entries.last, last.position >= position { return }
        entries.append(Entry(position: position, time: time))
        if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
    }

    /// Lag of a DR side that has applied everything up to `applied`, as of `now`.
    public mutating func lag(applied: Int64, now: Date) -> Lag {
        guard let firstAhead = entries.firstIndex(where: { $0.position > applied }) else {
            // Caught up with everything seen: older entries are no longer needed.
            if entries.count > 1 { entries.removeFirst(entries.count - 1) }
            return .measured(0)
        }
        if firstAhead > 1 { entries.removeFirst(firstAhead - 1) }
        let seconds = max(0, now.timeIntervalSince(entries[firstAhead > 0 ? 1 : 0].time))
        return firstAhead == 0 ? .atLeast(seconds) : .measured(seconds)
    }
}
