import Foundation
import Logging
import Metrics
import SQLiteJournal
import Testing
@testable import RedisSource
@testable import SyncCore
@testable import SyncManager

/// The Redis adapter behind the sync manager: checks feed the gate, reconcile is journaled.
extension RedisServers {
    @Suite struct RedisManagerTests {
        init() async throws {
            try await TestRedis.script("reset")
        }

        func manager(_ config: SourceConfig) throws -> SyncManager {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-redis-\(UUID().uuidString)/journal.sqlite").path
            return SyncManager(sources: [(config, RedisSource(config: config))], journal: try SQLiteJournal(path: path), historySize: 10,
                               metricsFactory: NOOPMetricsHandler.instance, logger: Logger(label: "test"))
        }

        @Test func aCheckFeedsTheGateAndReconcileRepairsTheDRInstance() async throws {
            // A heartbeat gives the independent instance a measurable lag: the age of the DR side's copy
            // of the heartbeat key, which syncd's own full sync copies along with everything else.
            let config = TestRedis.source("redis-dr", dr: TestRedis.independent, mode: .independent, heartbeatKey: "syncd:heartbeat", lagBudget: 60)
            let manager = try manager(config)
            let monitor = try #require(manager.monitor(named: "redis-dr"))
            let primary = try await TestRedis.connect(TestRedis.primary)
            let dr = try await TestRedis.connect(TestRedis.independent)
            for index in 0..<500 { try await primary.run("SET", "k:\(index)", "v\(index)") }
            await monitor.poll()
            let copied = try await manager.control(.fullSync, source: "redis-dr", actor: "test")
        #expect(copied.message.contains("DUMP/RESTORE"), "\(copied.message)")
            let synced = await monitor.poll()
            #expect(synced.state == .inSync || synced.state == .syncing, "\(synced)")
            #expect((synced.lagSeconds ?? 99) < 5, "the copy is only as old as the full sync")

            let noCheck = try await manager.evaluateGate(sources: ["redis-dr"], actor: "test")
            #expect(noCheck.status == .fail, "no check yet: the gate fails closed")

            let passing = try await manager.check(source: "redis-dr", options: CheckOptions(rounds: 2), actor: "test")
            #expect(passing.status == .pass)
            #expect(passing.primaryRows == 500)
            #expect(try await manager.evaluateGate(sources: ["redis-dr"], actor: "test").status == .pass)

            try await dr.run("DEL", "k:7")
            try await dr.run("SET", "k:8", "wrong")
            let failing = try await manager.check(source: "redis-dr", options: CheckOptions(rounds: 2), actor: "test")
            #expect(failing.missing == 1 && failing.changed == 1)
            let gate = try await manager.evaluateGate(sources: ["redis-dr"], actor: "test")
            #expect(gate.status == .fail)
            #expect(gate.sources.first?.reasons.contains { $0.hasPrefix("db0:") } == true, "the failing scope is named: \(gate.sources.first?.reasons ?? [])")

            let dryRun = try await manager.reconcile(source: "redis-dr", apply: false, actor: "test")
            #expect(dryRun.outcome == nil)
            #expect(dryRun.plan.upserts == 2)
            #expect(try await dr.run("EXISTS", "k:7").integer == 0, "a dry run writes nothing")
            let applied = try await manager.reconcile(source: "redis-dr", apply: true, actor: "test")
            #expect(applied.outcome?.stillDiffering == 0)
            let after = try await manager.check(source: "redis-dr", options: CheckOptions(rounds: 2), actor: "test")
            #expect(after.status == .pass)
            #expect(try await manager.evaluateGate(sources: ["redis-dr"], actor: "test").status == .pass)
        }
    }
}
