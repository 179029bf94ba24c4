import Foundation
import Logging
import Metrics
import SQLiteJournal
import Testing
import TestSupport
@testable import PostgresClient
@testable import PostgresSource
@testable import SyncCore
@testable import SyncManager

extension PostgresReplicationTests {
    /// How many sessions of syncd's checks a server has, and how many of them run a statement.
    static func checkSessions(_ endpoint: EndpointConfig) async throws -> (all: Int, active: Int) {
        let connection = try await TestServers.connect(endpoint)
        let rows = try await connection.query("""
            SELECT count(*)::text AS all_sessions, count(*) FILTER (WHERE state = 'active')::text AS active
            FROM pg_stat_activity WHERE application_name LIKE 'syncd-check:%'
            """)
        return (Int(rows.value(0, "all_sessions") ?? "") ?? -1, Int(rows.value(0, "active") ?? "") ?? -1)
    }

    @Test("a cancelled check leaves no statement running on either server, and the gate keeps the previous record")
    func cancelledCheckStopsOnTheServers() async throws {
        try await CheckTables.create("cancel_me", "id int PRIMARY KEY, v text")
        try await CheckTables.both("INSERT INTO checks.cancel_me SELECT g, 'v' FROM generate_series(1, 1000) g")
        let config = CheckTables.source(tables: ["checks.cancel_me"])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-cancel-\(UUID().uuidString)/journal.sqlite").path
        let manager = SyncManager(sources: [(config, PostgresSource(config: config))], journal: try SQLiteJournal(path: path), historySize: 10,
                                  metricsFactory: NOOPMetricsHandler.instance, logger: Logger(label: "test"))
        let passed = try await manager.check(source: config.name, options: CheckOptions(rounds: 1), actor: "test")
        #expect(passed.status == .pass)

        // A lock held on the DR side makes the check's scan wait there (up to its 10 s lock_timeout).
        let locker = try await TestServers.connect(TestServers.subscriber)
        try await locker.query("BEGIN")
        try await locker.query("LOCK TABLE checks.cancel_me IN ACCESS EXCLUSIVE MODE")
        let job = try await manager.startCheck(source: config.name, options: CheckOptions(rounds: 1), actor: "test")
        let waiting = try await eventually(timeout: .seconds(8), every: .milliseconds(50)) {
            try await Self.checkSessions(TestServers.subscriber).active == 1
        }
        #expect(waiting, "the check's statement should be waiting for the lock on the DR side")

        let cancelled = try await manager.cancelCheck(id: job.id, actor: "test")
        #expect(cancelled.status == .cancelled, "\(cancelled)")
        // The statement is cancelled on the server, and the abandoned sessions go away.
        let gone = try await eventually(timeout: .seconds(5), every: .milliseconds(100)) {
            let dr = try await Self.checkSessions(TestServers.subscriber)
            let primary = try await Self.checkSessions(TestServers.publisher)
            return dr.all == 0 && primary.all == 0
        }
        let left = (dr: try await Self.checkSessions(TestServers.subscriber), primary: try await Self.checkSessions(TestServers.publisher))
        #expect(gone, "check sessions left: \(left)")
        try await locker.query("ROLLBACK")

        await #expect(throws: SyncError.self) { _ = try await manager.cancelCheck(id: job.id, actor: "test") }
        let entries = try await manager.journal.recent(limit: 5, source: config.name, kind: "check")
        #expect(entries.contains { $0.action == "cancel" } && entries.contains { $0.outcome == "cancelled" }, "\(entries.map { ($0.action, $0.outcome) })")
        // A cancelled check is no evidence: the gate still judges the previous, passing one.
        let recorded = try #require(await manager.monitors[0].latestCheck)
        #expect(recorded.error == nil && recorded.ratio == 1, "\(recorded)")
        #expect(try await manager.latestCheckResult(source: config.name)?["result"]?["status"] == .string("pass"))
    }
}
