import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SyncCore

/// Shared by the test targets that drive the real servers of integration/.

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(100),
                       _ condition: () async throws -> Bool) async throws -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try await condition()
}

/// Runs one of the project's integration/ scripts (e.g. `pg.sh stop standby`). Uses system() on
/// its own queue: Foundation's Process.waitUntilExit can miss the child's exit inside async tests on Linux.
public func runIntegrationScript(_ name: String, _ arguments: [String], path override: String? = nil) async throws {
    let path = override ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("integration/\(name)").path
    let command = (["/bin/bash", path] + arguments).map { "'\($0)'" }.joined(separator: " ")
    let status = try await BlockingQueue(label: "test.script").run { system(command) }
    guard status == 0 else {
        throw TestSetupError("integration/\(name) \(arguments.joined(separator: " ")) exited with status \(status)")
    }
}

/// How a cancelled call ended: what it threw and how long it ran on after the cancel.
public struct CancelledCall: Sendable {
    public var error: (any Error)?
    public var afterCancel: Duration

    public var threwCancellation: Bool { error is CancellationError }
}

/// Starts `operation`, cancels its task once `started` holds (a condition on the server, or the
/// call being under way), and waits for it to end.
public func cancel(once started: () async throws -> Bool, startTimeout: Duration = .seconds(10),
                   _ operation: @escaping @Sendable () async throws -> Void) async throws -> CancelledCall {
    let task = Task { try await operation() }
    guard try await eventually(timeout: startTimeout, every: .milliseconds(20), started) else {
        task.cancel()
        throw TestSetupError("the call to cancel did not get under way within \(startTimeout)")
    }
    let clock = ContinuousClock()
    let cancelledAt = clock.now
    task.cancel()
    let result = await task.result
    let error: (any Error)? = if case let .failure(failure) = result { failure } else { nil }
    return CancelledCall(error: error, afterCancel: clock.now - cancelledAt)
}

/// When a call under test got under way.
public final class StartFlag: @unchecked Sendable {
    // @unchecked: `at` is read and written under `lock` only.
    private let lock = NSLock()
    private var at: ContinuousClock.Instant?

    public init() {}

    public func set() { lock.withLock { at = ContinuousClock.now } }
    /// Whether the call started at least `duration` ago.
    public func started(before duration: Duration) -> Bool { lock.withLock { at.map { ContinuousClock.now - $0 >= duration } ?? false } }
}
