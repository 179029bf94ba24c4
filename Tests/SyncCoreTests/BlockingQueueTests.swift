import Foundation
import Testing
import TestSupport
@testable import SyncCore

@Suite struct BlockingQueueTests {
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func add() { lock.withLock { value += 1 } }
        var count: Int { lock.withLock { value } }
    }

    @Test("a cancellable call of a cancelled task is skipped while it waits, and never started once cancelled")
    func cancelledCallsAreSkipped() async throws {
        let queue = BlockingQueue(label: "test.blocking")
        let ran = Counter()
        // Occupies the serial queue for 0.5 s.
        let occupied = StartFlag()
        let busy = Task { try await queue.run { occupied.set(); Thread.sleep(forTimeInterval: 0.5); return 1 } }
        #expect(try await eventually(timeout: .seconds(5), every: .milliseconds(5)) { occupied.started(before: .zero) })
        let waiting = Task { try await queue.runCancellable { ran.add(); return 2 } }
        try await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiting.value }
        #expect(try await busy.value == 1)
        #expect(ran.count == 0, "the cancelled call never ran")

        let already = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await queue.runCancellable { ran.add(); return 3 }
        }
        await #expect(throws: CancellationError.self) { _ = try await already.value }
        #expect(ran.count == 0)
        // The plain call runs to its end whatever happens to its task (cleanup, journal writes).
        let cleanup = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await queue.run { ran.add(); return 4 }
        }
        #expect(try await cleanup.value == 4)
        #expect(ran.count == 1)
    }

    @Test("a long cancellable body can watch its token")
    func bodyWatchesItsToken() async throws {
        let queue = BlockingQueue(label: "test.blocking.token")
        let started = ContinuousClock.now
        let working = StartFlag()
        let task = Task {
            try await queue.runCancellable { token -> Int in
                working.set()
                for step in 0..<100 {
                    if token.isCancelled { throw CancellationError() }
                    Thread.sleep(forTimeInterval: 0.05)
                    _ = step
                }
                return 0
            }
        }
        // Cancelled while the body runs, not before it starts.
        #expect(try await eventually(timeout: .seconds(5), every: .milliseconds(5)) { working.started(before: .milliseconds(100)) })
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        #expect(started.duration(to: .now) < .seconds(2), "stopped well before its 5 s of work")
    }
}
