import Foundation
import Testing

/// Checks syncd runs by itself, so a pipeline's gate call finds a fresh check without an admin
/// verify first.
extension BinaryTests {
    @Test("with check_interval the gate passes on a real pair without anyone running verify; --check-config warns about a window that leaves gaps")
    func scheduledChecksFeedTheGate() async throws {
        // pg-logical is the config's last source: the schedule goes under it.
        let scheduled = config(port: "25433") + "\n    check_interval: 2s\n"
        try scheduled.write(to: directory.appendingPathComponent("syncd.yaml"), atomically: true, encoding: .utf8)
        let pid = try await startSyncd()
        defer { kill(pid, SIGKILL) }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        var gate = try await syncctl("gate --sources pg-logical")
        while gate.status != 0, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            gate = try await syncctl("gate --sources pg-logical")
        }
        #expect(gate.status == 0, "\(gate.stdout) \(gate.stderr)")
        let journal = try await syncctl("journal --kind check --source pg-logical --json")
        #expect(journal.stdout.contains("\"actor\" : \"scheduler\"") || journal.stdout.contains("\"actor\": \"scheduler\""), "\(journal.stdout.prefix(1500))")
        #expect(try await stopSyncd(pid) == 0)

        let gappy = scheduled.replacingOccurrences(of: "check_interval: 2s", with: "check_interval: 1h\n    check_window: \"01:00-03:00\"\n    time_zone: Europe/Berlin")
        try gappy.write(to: directory.appendingPathComponent("gappy.yaml"), atomically: true, encoding: .utf8)
        let check = try await shell("\(binaries.path)/syncd --config \(directory.path)/gappy.yaml --check-config")
        #expect(check.status == 0, "a warning, not an error: \(check.stderr)")
        #expect(check.stderr.contains("warning") && check.stderr.contains("source 'pg-logical'") && check.stderr.contains("check_window 01:00-03:00 (Europe/Berlin)")
                && check.stderr.contains("check_max_age 15m"), "\(check.stderr)")
    }
}
