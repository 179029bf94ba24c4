import Foundation
import Testing
import TestSupport
@testable import RedisClient
@testable import RedisSource
@testable import SyncCore

extension RedisServers {
    @Suite struct StreamGroupTests {
        init() async throws {
            try await TestRedis.script("reset")
        }

        @Test("stream consumer groups are compared: a group deleted or its last-delivered id moved on the DR side is reported; reconcile repairs it")
        func consumerGroupsAreCompared() async throws {
            let config = TestRedis.source("redis-streams", dr: TestRedis.independent, mode: .independent, databases: [6])
            let primary = try await TestRedis.connect(TestRedis.primary, database: 6)
            let dr = try await TestRedis.connect(TestRedis.independent, database: 6)
            try await primary.run("FLUSHDB")
            try await dr.run("FLUSHDB")
            for id in 1...5 { try await primary.run("XADD", "orders", "\(id)-0", "n", "\(id)") }
            try await primary.run("XGROUP", "CREATE", "orders", "billing", "0")
            try await primary.run("XGROUP", "CREATE", "orders", "audit", "0")
            // billing read three entries and acknowledged one: two stay pending for consumer c1.
            try await primary.run("XREADGROUP", "GROUP", "billing", "c1", "COUNT", "3", "STREAMS", "orders", ">")
            try await primary.run("XACK", "orders", "billing", "1-0")
            let source = RedisSource(config: config)
            try await source.forceFullSync()
            let equal = try await source.check(CheckOptions(maxDiffs: 10, rounds: 1)) { _ in }
            #expect(equal.status == .pass, "a full sync copies the groups: \(equal.diffs)")

            try await dr.run("XGROUP", "DESTROY", "orders", "audit")
            let deleted = try await source.check(CheckOptions(maxDiffs: 10, rounds: 1)) { _ in }
            let diff = try #require(deleted.diffs.first, "a deleted group is a difference")
            #expect(diff.kind == .changed && diff.detail?.contains("stream consumer groups differ (primary: 2 group(s), 2 pending; DR: 1 group(s), 2 pending)") == true,
                    "\(diff.detail ?? "")")

            let plan = try await source.planReconcile(from: deleted)
            let outcome = try await source.applyReconcile(plan)
            #expect(outcome.status == .pass, "\(outcome)")
            #expect(try await source.check(CheckOptions(maxDiffs: 10, rounds: 1)) { _ in }.status == .pass)

            try await dr.run("XGROUP", "SETID", "orders", "billing", "5-0")
            let moved = try await source.check(CheckOptions(maxDiffs: 10, rounds: 1)) { _ in }
            #expect(moved.diffs.first?.detail?.contains("stream consumer groups differ") == true, "a moved last-delivered id: \(moved.diffs)")
            try await primary.run("FLUSHDB")
            try await dr.run("FLUSHDB")
        }
    }
}
