import Dispatch
import Foundation

/// Runs blocking C calls on a dedicated serial dispatch queue, never on Swift's cooperative pool.
/// Serial order also makes it the lock for a C handle that is not thread-safe.
public final class BlockingQueue: Sendable {
    private let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    /// Runs `body` to its end whatever happens to the calling task (cleanup, journal writes).
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }

    /// For work that belongs to a cancellable operation (a check's reads and transfers): a call of
    /// a cancelled task is not started, and one still waiting in the queue is skipped, so a
    /// cancelled check stops at its next call. A long body can watch `token` itself.
    public func runCancellable<T: Sendable>(_ body: @escaping @Sendable (CancellationToken) throws -> T) async throws -> T {
        try Task.checkCancellation()
        let token = CancellationToken()
        return try await withTaskCancellationHandler {
            try await run {
                if token.isCancelled { throw CancellationError() }
                return try body(token)
            }
        } onCancel: {
            token.cancel()
        }
    }

    public func runCancellable<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await runCancellable { (_: CancellationToken) in try body() }
    }
}

/// Set when the task a blocking call works for is cancelled; read from the call's own thread.
public final class CancellationToken: @unchecked Sendable {
    // @unchecked: `cancelled` is read and written under `lock` only.
    private let lock = NSLock()
    private var cancelled = false

    public init() {}

    public var isCancelled: Bool { lock.withLock { cancelled } }
    public func cancel() { lock.withLock { cancelled = true } }
}
