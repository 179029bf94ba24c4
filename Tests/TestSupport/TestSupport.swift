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
