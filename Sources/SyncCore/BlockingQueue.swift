import Dispatch

/// Runs blocking C calls on a dedicated serial dispatch queue, never on Swift's cooperative pool.
/// Serial order also makes it the lock for a C handle that is not thread-safe.
public final class BlockingQueue: Sendable {
    private let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
