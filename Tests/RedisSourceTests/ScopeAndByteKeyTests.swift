import Foundation
import Logging
import Metrics
import SQLiteJournal
import Testing
@testable import RedisSource
@testable import SyncCore
@testable import SyncManager

extension RedisServers {
    /// The gate judges every configured database; keys are bytes.
    @Suite struct RedisScopeAndByteKeyTests {
        init() async throws {
            try await TestRedis.script("reset")
        }

        @Test("a check of db1 alone never passes the gate while db0 differs; a later check of db0 repaired does")
        func partialCheckOfOneDatabase() async throws {
            let heartbeat = "syncd:heartbeat-scope"
            let config = TestRedis.source("redis-scope", dr: TestRedis.independent, mode: .independent, databases: [0, 1],
                                          heartbeatKey: heartbeat, lagBudget: 3600)
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-redis-scope-\(UUID().uuidString)/journal.sqlite").path
            let manager = SyncManager(sources: [(config, RedisSource(config: config))], journal: try SQLiteJournal(path: path), historySize: 10,
                                      metricsFactory: NOOPMetricsHandler.instance, logger: Logger(label: "test"))
            for database in [0, 1] {
                let primary = try await TestRedis.connect(TestRedis.primary, database: database)
                let dr = try await TestRedis.connect(TestRedis.independent, database: database)
                for index in 0..<200 {
                    try await primary.run("SET", "k:\(index)", "v\(index)")
                    try await dr.run("SET", "k:\(index)", database == 0 && index < 20 ? "drift" : "v\(index)")
                }
            }
            // The test plays the DR instance's sync tool for the heartbeat, so the lag is known.
            let dr0 = try await TestRedis.connect(TestRedis.independent, database: 0)
            try await dr0.run("SET", heartbeat, String(Int64(Date().timeIntervalSince1970 * 1000)))
            let full = try await manager.check(source: config.name, options: CheckOptions(rounds: 1, fullDiff: true), actor: "test")
            #expect(full.status == .fail && full.changed == 20, "\(full.tables)")

            let partial = try await manager.check(source: config.name, options: CheckOptions(tables: ["db1"], rounds: 1), actor: "test")
            #expect(partial.status == .pass && partial.partial == true, "\(partial.tables)")
            await manager.monitors[0].poll()
            let verdict = try await manager.evaluateGate(sources: [config.name], actor: "test")
            #expect(verdict.status == .fail)
            #expect(verdict.sources[0].reasons.contains { $0.hasPrefix("db0:") && $0.contains("below the threshold") }, "\(verdict.sources[0].reasons)")
            #expect((verdict.sources[0].ratio ?? 1) <= 0.9, "the source's ratio is its lowest scope's (db0: 20 of 200 differ)")
            let entry = try await manager.journal.recent(limit: 1, source: config.name, kind: "check").first
            #expect(entry?.action == "verify (partial)")

            for index in 0..<20 { try await dr0.run("SET", "k:\(index)", "v\(index)") }
            let fixed = try await manager.check(source: config.name, options: CheckOptions(tables: ["db0"], rounds: 1), actor: "test")
            #expect(fixed.status == .pass)
            try await dr0.run("SET", heartbeat, String(Int64(Date().timeIntervalSince1970 * 1000)))
            await manager.monitors[0].poll()
            let passing = try await manager.evaluateGate(sources: [config.name], actor: "test")
            #expect(passing.status == .pass, "\(passing.sources[0].reasons)")
        }

        @Test("keys spelt in NFC and NFD are two keys: the NFD one is missing on the DR side")
        func nfcAndNfdKeysAreTwoKeys() async throws {
            let nfc = "caf\u{E9}", nfd = "cafe\u{301}"
            let primary = try await TestRedis.connect(TestRedis.primary)
            let dr = try await TestRedis.connect(TestRedis.independent)
            for key in [nfc, nfd, "plain"] { try await primary.run("SET", key, "v") }
            for key in [nfc, "plain"] { try await dr.run("SET", key, "v") }
            // A hash whose fields differ only by normalisation differs too.
            try await primary.run("HSET", "h", nfc, "1", nfd, "2")
            try await dr.run("HSET", "h", nfc, "1")
            let result = try await RedisSource(config: TestRedis.independentPair).check(CheckOptions(rounds: 1, fullDiff: true)) { _ in }
            #expect(result.status == .fail)
            #expect(result.missing == 1 && result.changed == 1 && result.extra == 0, "\(result.diffs)")
            let missing = try #require(result.diffs.first { $0.kind == .missing })
            guard case let .string(key)? = missing.key["key"] else {
                Issue.record("no key in \(missing)")
                return
            }
            #expect(key.byteKey == nfd.byteKey, "the NFD key is the missing one")
            #expect(result.diffs.contains { $0.kind == .changed && $0.key["key"] == .string("h") })
        }

        @Test("a check that stops early still lists every configured database, the ones it did not reach as not compared")
        func stoppedEarlyListsEveryDatabase() async throws {
            let primary = try await TestRedis.connect(TestRedis.primary)
            for index in 0..<50 { try await primary.run("SET", "only-primary:\(index)", "v") }
            for database in [1, 2] {
                let other = try await TestRedis.connect(TestRedis.primary, database: database)
                try await other.run("SET", "k", "v")
            }
            let config = TestRedis.source("redis-early", dr: TestRedis.independent, mode: .independent, databases: [0, 1, 2])
            let result = try await RedisSource(config: config).check(CheckOptions(rounds: 1)) { _ in }
            #expect(result.stoppedEarly)
            #expect(result.tables.map(\.table) == ["db0", "db1", "db2"], "\(result.tables)")
            #expect(result.tables.dropFirst().allSatisfy { $0.status == .notCompared }, "\(result.tables)")
            #expect(result.words?.scope == "database")
            let scopes = try #require(result.summary.scopes)
            #expect(scopes.count == 3 && scopes.allSatisfy { $0.ratio == nil }, "every scope is unchecked: \(scopes)")
        }
    }
}
