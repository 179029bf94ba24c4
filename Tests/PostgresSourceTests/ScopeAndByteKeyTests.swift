import Foundation
import Logging
import Metrics
import SQLiteJournal
import Testing
import TestSupport
@testable import PostgresSource
@testable import SyncCore
@testable import SyncManager

extension PostgresReplicationTests {
    @Test func textKeysSpelledInNFCAndNFDAreTwoRows() async throws {
        let nfc = "caf\u{E9}", nfd = "cafe\u{301}"
        try await CheckTables.create("spelled", "k text PRIMARY KEY, v int")
        try await CheckTables.run(TestServers.publisher, "INSERT INTO checks.spelled VALUES ('a', 1), ('\(nfc)', 2), ('\(nfd)', 3)")
        try await CheckTables.run(TestServers.subscriber, "INSERT INTO checks.spelled VALUES ('a', 1), ('\(nfc)', 2)")
        let result = try await CheckTables.check(["checks.spelled"])
        #expect(result.missing == 1 && result.changed == 0 && result.extra == 0, "\(result.diffs)")
        guard case let .string(key)? = result.diffs.first?.key["k"] else {
            Issue.record("no key in \(result.diffs)")
            return
        }
        #expect(key.byteKey == nfd.byteKey, "the NFD row is the missing one")
        #expect(result.diffs.first?.kind == .missing)
        #expect(DisplayText.escape(key) == "cafe\\u0301", "shown so it can be told from the NFC key")
    }

    @Test func aPartialCheckUpdatesOnlyItsScopesAndNeverPassesADifferingOne() async throws {
        try await CheckTables.create("scope_bad", "id int PRIMARY KEY, v text")
        try await CheckTables.create("scope_good", "id int PRIMARY KEY, v text")
        try await CheckTables.both("INSERT INTO checks.scope_bad SELECT g, 'v' FROM generate_series(1, 5000) g")
        try await CheckTables.both("INSERT INTO checks.scope_good SELECT g, 'v' FROM generate_series(1, 5000) g")
        try await CheckTables.run(TestServers.subscriber, "UPDATE checks.scope_bad SET v = 'drift' WHERE id % 100 = 0")
        let config = CheckTables.source(tables: ["checks.scope_bad", "checks.scope_good"])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-scope-\(UUID().uuidString)/journal.sqlite").path
        let manager = SyncManager(sources: [(config, PostgresSource(config: config))], journal: try SQLiteJournal(path: path), historySize: 10,
                                  metricsFactory: NOOPMetricsHandler.instance, logger: Logger(label: "test"))
        await manager.monitors[0].poll()
        let full = try await manager.check(source: config.name, options: CheckOptions(rounds: 1), actor: "test")
        #expect(full.status == .fail && full.changed == 50, "\(full.tables)")
        #expect(try await manager.evaluateGate(sources: [config.name], actor: "test").status == .fail)

        // Checking only the good table passes that check, but not the gate: the bad table still differs.
        let partial = try await manager.check(source: config.name, options: CheckOptions(tables: ["checks.scope_good"], rounds: 1), actor: "test")
        #expect(partial.status == .pass && partial.partial == true)
        await manager.monitors[0].poll()
        let verdict = try await manager.evaluateGate(sources: [config.name], actor: "test")
        #expect(verdict.status == .fail)
        #expect(verdict.sources[0].reasons.contains { $0.contains("checks.scope_bad") && $0.contains("below the threshold") }, "\(verdict.sources[0].reasons)")
        #expect((verdict.sources[0].ratio ?? 1) < 0.99999, "the source's ratio is its lowest scope's")
        let recorded = try #require(await manager.monitors[0].latestCheck)
        #expect(recorded.partial == true && recorded.scopes?.count == 2)
        let entry = try await manager.journal.recent(limit: 1, source: config.name, kind: "check").first
        #expect(entry?.action == "verify (partial)")
        #expect(entry?.detail?["result"]?["partial"] == .bool(true))

        // After a restart the merged record is rebuilt from the journal: still failing.
        let restarted = SyncManager(sources: [(config, PostgresSource(config: config))], journal: try SQLiteJournal(path: path), historySize: 10,
                                    metricsFactory: NOOPMetricsHandler.instance, logger: Logger(label: "test"))
        await restarted.restoreLatestChecks()
        await restarted.monitors[0].poll()
        #expect(try await restarted.evaluateGate(sources: [config.name], actor: "test").status == .fail)

        // Repaired, and the bad table checked on its own: now every scope passes.
        try await CheckTables.run(TestServers.subscriber, "UPDATE checks.scope_bad SET v = 'v' WHERE id % 100 = 0")
        let fixed = try await manager.check(source: config.name, options: CheckOptions(tables: ["checks.scope_bad"], rounds: 1), actor: "test")
        #expect(fixed.status == .pass)
        await manager.monitors[0].poll()
        let passing = try await manager.evaluateGate(sources: [config.name], actor: "test")
        #expect(passing.status == .pass, "\(passing.sources[0].reasons)")
    }
}
