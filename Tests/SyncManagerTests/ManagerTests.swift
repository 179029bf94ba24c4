import Foundation
import Logging
import Metrics
import SQLiteJournal
import Testing
import TestSupport
@testable import SyncCore
@testable import SyncManager

/// The manager and its poll loop against a scripted adapter: no data store is involved, and this
/// target links no adapter module.
@Suite struct ManagerTests {
    static func config(pollInterval: Double = 0.2, pollTimeout: Double = 0.3) -> SourceConfig {
        let endpoint = EndpointConfig(host: "127.0.0.1", port: 1)
        return withPollTiming(SourceConfig(name: "scripted", kind: ScriptedAdapter.scriptedKind, primary: endpoint, dr: endpoint, pollIntervalSeconds: 1, pollTimeoutSeconds: 5,
                                           policy: GatePolicy(lagBudgetSeconds: 30, checkMaxAgeSeconds: 900, ratioThreshold: 0.99999, sampleMaxAgeSeconds: 10)),
                              interval: pollInterval, timeout: pollTimeout)
    }

    static func manager(_ adapter: ScriptedAdapter, config: SourceConfig = config(), journal: String? = nil) throws -> SyncManager {
        let path = journal ?? FileManager.default.temporaryDirectory.appendingPathComponent("syncd-manager-\(UUID().uuidString)/journal.sqlite").path
        return SyncManager(sources: [(config, adapter)], journal: try SQLiteJournal(path: path), historySize: 100,
                           metricsFactory: NOOPMetricsHandler.instance, logger: Logger(label: "test"))
    }

    @Test("a poll that has not answered within poll_timeout is unreachable at once, and no second poll starts while it is outstanding")
    func unansweredPollIsUnreachable() async throws {
        let adapter = ScriptedAdapter(name: "scripted")
        let monitor = try Self.manager(adapter).monitors[0]
        #expect(await monitor.poll().state == .inSync)

        await adapter.set(sampleDelay: .seconds(1.5))
        let started = ContinuousClock.now
        let hung = await monitor.poll()
        #expect(started.duration(to: .now) < .seconds(1), "the deadline (0.3 s) answers, not the adapter (1.5 s)")
        #expect(hung.state == .unreachable)
        #expect(hung.errors.first?.contains("no answer within poll_timeout (0.3 s)") == true, "\(hung.errors)")

        let again = await monitor.poll()
        #expect(again.state == .unreachable)
        #expect(again.errors.first?.contains("has still not answered") == true, "\(again.errors)")
        #expect(await adapter.samplesStarted == 2, "no second poll piles up behind the hung one")

        await adapter.set(sampleDelay: .zero)
        #expect(try await eventually(timeout: .seconds(5), every: .milliseconds(100)) { await adapter.samplesRunning == 0 })
        #expect(await monitor.poll().state == .inSync, "once the hung poll answered, polls run again")
    }

    @Test("the full-sync message comes from the adapter and is journaled")
    func fullSyncMessageComesFromTheAdapter() async throws {
        let adapter = ScriptedAdapter(name: "scripted")
        let manager = try Self.manager(adapter)
        let outcome = try await manager.control(.fullSync, source: "scripted", actor: "test")
        #expect(outcome.message == "the scripted DR side was re-copied")
        let entry = try #require(try await manager.journal.recent(limit: 1, source: "scripted", kind: "control").first)
        #expect(entry.detail?["message"] == .string("the scripted DR side was re-copied"))
    }

    @Test("a partial check replaces only its scopes; the gate keeps failing on the other one, also after a restart")
    func partialCheckMergesIntoTheLatestFullOne() async throws {
        let adapter = ScriptedAdapter(name: "scripted")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-manager-\(UUID().uuidString)/journal.sqlite").path
        let manager = try Self.manager(adapter, journal: path)
        await adapter.set(checkScopes: [
            TableCheckResult(table: "a", status: .different, primaryRows: 100, drRows: 100, changed: 10),
            TableCheckResult(table: "b", status: .equal, primaryRows: 100, drRows: 100),
        ])
        await manager.monitors[0].poll()
        #expect(try await manager.check(source: "scripted", options: CheckOptions(), actor: "test").status == .fail)
        let partial = try await manager.check(source: "scripted", options: CheckOptions(tables: ["b"]), actor: "test")
        #expect(partial.status == .pass && partial.partial == true)
        let verdict = try await manager.evaluateGate(sources: ["scripted"], actor: "test")
        #expect(verdict.status == .fail)
        #expect(verdict.sources[0].reasons.contains { $0.hasPrefix("a: consistency ratio 0.9000000") }, "\(verdict.sources[0].reasons)")

        let restarted = try Self.manager(adapter, journal: path)
        await restarted.restoreLatestChecks()
        await restarted.monitors[0].poll()
        #expect(try await restarted.evaluateGate(sources: ["scripted"], actor: "test").status == .fail)

        await adapter.set(checkScopes: [TableCheckResult(table: "a", status: .equal, primaryRows: 100, drRows: 100),
                                        TableCheckResult(table: "b", status: .equal, primaryRows: 100, drRows: 100)])
        _ = try await restarted.check(source: "scripted", options: CheckOptions(tables: ["a"]), actor: "test")
        let passing = try await restarted.evaluateGate(sources: ["scripted"], actor: "test")
        #expect(passing.status == .pass, "\(passing.sources[0].reasons)")
    }

    @Test("check_interval: syncd runs checks by itself, journaled as the scheduler's, the gate passes on them, and never two at once")
    func scheduledChecksRunByThemselves() async throws {
        let adapter = ScriptedAdapter(name: "scripted")
        await adapter.set(checkScopes: [TableCheckResult(table: "t", status: .equal, primaryRows: 5, drRows: 5)], duration: .milliseconds(300))
        var config = Self.config()
        config.checkSchedule = CheckSchedule(intervalSeconds: 0.4)
        let manager = try Self.manager(adapter, config: config)
        #expect(try await manager.evaluateGate(sources: nil, actor: "test").status == .fail, "no check yet")
        let running = Task { try await manager.run() }
        defer { running.cancel() }

        func scheduled() async throws -> [JournalEntry] {
            try await manager.journal.recent(limit: 100, source: "scripted", kind: "check")
                .filter { $0.actor == SyncManager.schedulerActor && $0.outcome == "pass" }
        }
        #expect(try await eventually(timeout: .seconds(10)) { try await scheduled().count >= 2 })
        // A manual check while the scheduler runs: the scheduler waits for it instead of doubling it.
        let job = try await manager.startCheck(source: "scripted", options: CheckOptions(), actor: "operator")
        #expect(try await eventually(timeout: .seconds(10)) { await manager.checkJob(id: job.id)?.status != .running })
        #expect(try await eventually(timeout: .seconds(10)) { try await scheduled().count >= 4 })
        #expect(await adapter.mostChecksAtOnce == 1, "never two checks of a source at once")
        #expect(try await manager.evaluateGate(sources: nil, actor: "test").status == .pass)

        // Scheduled checks are spaced by the interval after the latest one (any caller's).
        let times = try await scheduled().map(\.time).sorted()
        for (earlier, later) in zip(times, times.dropFirst()) {
            #expect(later.timeIntervalSince(earlier) >= 0.4 + 0.3 - 0.05, "\(times)")
        }
        running.cancel()
        _ = try? await running.value
        let count = await adapter.checksStarted
        try await Task.sleep(for: .seconds(1))
        #expect(await adapter.checksStarted == count, "no scheduled check after the manager stopped")
    }

    @Test("graceful shutdown: a running check is cancelled and journaled so, its long poll answered at once, and no new operation starts (503)")
    func shutdownCancelsChecksAndRefusesNewWork() async throws {
        let adapter = ScriptedAdapter(name: "scripted")
        await adapter.set(checkScopes: [TableCheckResult(table: "t", status: .equal, primaryRows: 1, drRows: 1)], duration: .seconds(60))
        let manager = try Self.manager(adapter)
        let job = try await manager.startCheck(source: "scripted", options: CheckOptions(), actor: "operator")
        let waiter = Task { await manager.checkJob(id: job.id, wait: 60) }
        try await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        await manager.beginStopping()
        let answered = await waiter.value
        #expect(started.duration(to: .now) < .seconds(3), "the long poll is answered at shutdown, not after its 60 s")
        #expect(answered?.status == .cancelled)
        let entries = try await manager.journal.recent(limit: 10, source: "scripted", kind: "check")
        #expect(entries.contains { $0.outcome == "cancelled" }, "\(entries.map(\.outcome))")
        await #expect(throws: ShuttingDownError.self) { try await manager.startCheck(source: "scripted", options: CheckOptions(), actor: "operator") }
        await #expect(throws: ShuttingDownError.self) { try await manager.control(.pause, source: "scripted", actor: "operator") }
        let refusal = ShuttingDownError()
        #expect(refusal.statusCode == 503 && refusal.code == "shutting_down")
    }
}
