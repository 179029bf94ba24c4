/// The moment by which the calls of one operation must have answered (a poll's `poll_timeout`).
/// Adapters read it where they block on a server, so a hung server costs at most the deadline.
public enum CallDeadline {
    @TaskLocal public static var current: ContinuousClock.Instant?

    /// Runs `body` with a deadline `seconds` from now (never later than one already set).
    public static func within<T>(seconds: Double, isolation: isolated (any Actor)? = #isolation,
                                 _ body: () async throws -> T) async rethrows -> T {
        var deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        if let outer = current, outer < deadline { deadline = outer }
        return try await $current.withValue(deadline, operation: body, isolation: isolation)
    }

    /// Milliseconds left before `deadline`, at least 0 and at most `Int32.max`.
    public static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1
        return Int32(clamping: ms)
    }
}
