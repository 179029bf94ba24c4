import Foundation
import Testing
import TestSupport
@testable import RedisClient
@testable import RedisSource
@testable import SyncCore

/// The two Redis clusters of integration/redis-cluster.sh (three masters, one replica each).
enum TestCluster {
    static let sourcePort = Int(ProcessInfo.processInfo.environment["SYNCD_CLUSTER_SOURCE_PORT"] ?? "") ?? 27001
    static let drPort = Int(ProcessInfo.processInfo.environment["SYNCD_CLUSTER_DR_PORT"] ?? "") ?? 27101

    static func side(_ port: Int) -> EndpointConfig {
        var endpoint = TestRedis.endpoint(port)
        endpoint.options = RedisClusterOptions(seeds: [RedisAddress(host: endpoint.host, port: port), RedisAddress(host: endpoint.host, port: port + 1)])
        return endpoint
    }

    static var source: EndpointConfig { side(sourcePort) }
    static var dr: EndpointConfig { side(drPort) }

    static func pair(primary: EndpointConfig = source, dr: EndpointConfig = dr, heartbeatKey: String? = nil) -> SourceConfig {
        TestRedis.source("redis-cluster", dr: dr, mode: .independent, primary: primary, heartbeatKey: heartbeatKey)
    }

    static func script(_ arguments: String...) async throws {
        try await runIntegrationScript("redis-cluster.sh", arguments)
    }

    /// Writes through the slot map, as a cluster client does.
    static func write(_ endpoint: EndpointConfig, _ commands: [[String]]) async throws {
        let side = try await RedisSide.open(endpoint, side: .primary, database: 0)
        for command in commands {
            let reply = try await side.connection(for: Array(command[1].utf8)).command(RedisCommand(command))
            if case let .error(message) = reply { throw TestSetupError("\(command.joined(separator: " ")): \(message)") }
        }
    }

    /// Keys of every type, some sharing a hash tag.
    static func dataset(_ count: Int) -> [[String]] {
        (0..<count).map { index in
            switch index % 5 {
            case 0: ["SET", "c:str:\(index)", "value-\(index)"]
            case 1: ["HSET", "c:hash:{tag\(index % 7)}:\(index)", "a", "1", "b", "\(index)"]
            case 2: ["RPUSH", "c:list:\(index)", "x", "y", "\(index)"]
            case 3: ["SADD", "c:set:\(index)", "m1", "m2", "\(index)"]
            default: ["ZADD", "c:zset:\(index)", "1", "a", "\(index)", "b"]
            }
        }
    }
}

extension RedisServers {
    @Suite struct ClusterTests {
        static let options = CheckOptions(maxDiffs: 100, rounds: 2, catchUpTimeout: .seconds(10))

        func check(_ config: SourceConfig) async throws -> CheckResult {
            try await RedisSource(config: config).check(Self.options) { _ in }
        }

        @Test("cluster ↔ cluster: full sync routes every key to its slot's master, the check compares every master's keys, finds each kind of difference, and reconcile repairs them")
        func clusterToCluster() async throws {
            try await TestCluster.script("reset")
            let config = TestCluster.pair(heartbeatKey: "syncd:hb:cluster")
            try await TestCluster.write(config.primary, TestCluster.dataset(3000))
            let source = RedisSource(config: config)
            // A first poll writes the heartbeat key; the full sync copies it with the rest.
            let before = await source.sample()
            #expect(before.errors.contains { $0.contains("heartbeat key is not on the DR side yet") }, "\(before.errors)")
            _ = try await source.forceFullSync()
            let equal = try await check(config)
            #expect(equal.status == .pass && equal.primaryRows == 3000 && equal.drRows == 3000, "\(equal.error ?? "") \(equal.tables)")

            let sample = await source.sample()
            #expect(sample.errors.isEmpty || sample.state != .broken, "\(sample.errors)")
            let shards = sample.details["dr_shards"] ?? ""
            #expect(shards.components(separatedBy: "; ").count == 3 && shards.contains("1 of 1 replica(s) online"), "\(sample.details)")
            #expect(sample.details["primary_shards"]?.components(separatedBy: "; ").count == 3)
            #expect(sample.lagSeconds != nil, "lag from the heartbeat key, routed to its slot: \(sample.details) \(sample.errors)")

            try await TestCluster.write(config.dr, [["DEL", "c:str:0"], ["DEL", "c:list:2"], ["DEL", "c:hash:{tag1}:1"],
                                                    ["SET", "c:str:5", "changed"], ["SADD", "c:set:3", "intruder"],
                                                    ["SET", "dr:only:1", "x"], ["SET", "dr:only:2", "x"], ["SET", "{tag3}dr:only", "x"], ["SET", "dr:only:4", "x"]])
            let differing = try await check(config)
            #expect(differing.status == .fail)
            #expect(differing.missing == 3 && differing.changed == 2 && differing.extra == 4, "\(differing.tables) \(differing.diffs)")

            let plan = try await source.planReconcile(from: differing)
            let outcome = try await source.applyReconcile(plan)
            #expect(outcome.stillDiffering == 0 && outcome.rowsUpserted == 5 && outcome.rowsDeleted == 4, "\(outcome)")
            let repaired = try await check(config)
            #expect(repaired.status == .pass && repaired.primaryRows == 3000, "\(repaired.error ?? "") \(repaired.tables)")
        }

        @Test("cluster ↔ standalone and standalone ↔ cluster compare with the same canonical comparison", arguments: [true, false])
        func clusterAndStandalone(_ clusterIsPrimary: Bool) async throws {
            try await TestCluster.script("reset")
            try await TestRedis.script("reset")
            let config = clusterIsPrimary
                ? TestCluster.pair(primary: TestCluster.source, dr: TestRedis.independent)
                : TestCluster.pair(primary: TestRedis.primary, dr: TestCluster.dr)
            if clusterIsPrimary {
                try await TestCluster.write(config.primary, TestCluster.dataset(1500))
            } else {
                let primary = try await TestRedis.connect(TestRedis.primary)
                for command in TestCluster.dataset(1500) { _ = try await primary.command(RedisCommand(command)) }
            }
            let source = RedisSource(config: config)
            _ = try await source.forceFullSync()
            let equal = try await check(config)
            #expect(equal.status == .pass && equal.primaryRows == 1500 && equal.drRows == 1500, "\(equal.error ?? "") \(equal.tables)")
            if clusterIsPrimary {
                let dr = try await TestRedis.connect(TestRedis.independent)
                try await dr.run("DEL", "c:str:10")
                try await dr.run("SET", "only-on-dr", "x")
            } else {
                try await TestCluster.write(config.dr, [["DEL", "c:str:10"], ["SET", "only-on-dr", "x"]])
            }
            let differing = try await check(config)
            #expect(differing.missing == 1 && differing.extra == 1 && differing.changed == 0, "\(differing.tables) \(differing.diffs)")
        }

        @Test("a cluster master down: the sample is unreachable and names the shard and its master")
        func shardDown() async throws {
            try await TestCluster.script("reset")
            let config = TestCluster.pair()
            let source = RedisSource(config: config)
            let side = try await RedisSide.open(config.dr, side: .dr, database: 0)
            let victim = try #require(side.map?.shards.last)
            try await TestCluster.script("stop-node", "dr", String(victim.master.port))
            do {
                let sample = await source.sample()
                #expect(sample.state == .unreachable, "\(sample.state) \(sample.errors)")
                let text = sample.errors.joined()
                #expect(text.contains("DR cluster shard \(victim.slotText) (master \(victim.master.text))"), "\(text)")
                await #expect(throws: SyncError.self) { _ = try await source.check(Self.options) { _ in } }
            }
            try await TestCluster.script("start-node", "dr", String(victim.master.port))
            try await TestCluster.script("reset")
        }

        @Test("a slot migrated during a check: no key is missed, or the check fails saying why — never a pass with keys unseen")
        func slotMigrationDuringACheck() async throws {
            try await TestCluster.script("reset")
            let config = TestCluster.pair()
            // Many keys in one slot, so moving it takes a while.
            var commands = TestCluster.dataset(2000)
            commands += (0..<6000).map { ["SET", "{moving}:\($0)", "v\($0)"] }
            try await TestCluster.write(config.primary, commands)
            let source = RedisSource(config: config)
            _ = try await source.forceFullSync()
            let slot = ClusterSlot.of(Array("{moving}".utf8))
            setenv("SYNCD_MIGRATE_PAUSE", "0.05", 1)
            defer { unsetenv("SYNCD_MIGRATE_PAUSE") }
            let migration = Task { try await TestCluster.script("migrate-slot", "source", String(slot)) }
            try await Task.sleep(for: .milliseconds(100))
            var outcomes: [String] = []
            for _ in 0..<3 {
                do {
                    let result = try await check(config)
                    if result.status == .pass {
                        #expect(result.primaryRows == 8000 && result.drRows == 8000, "a pass compared every key: \(result.tables)")
                        outcomes.append("pass with all 8000 keys")
                    } else {
                        let why = result.error ?? "\(result.tables.map { $0.reason ?? "" })"
                        #expect(why.contains("migrat") || why.contains("slot map") || why.contains("moved"), "a failed check says why: \(why) \(result.diffs.prefix(5))")
                        outcomes.append("failed: \(why.prefix(120))")
                    }
                } catch {
                    let why = "\(error)"
                    #expect(why.contains("migrat") || why.contains("slot map") || why.contains("moved"), "a failed check says why: \(why)")
                    outcomes.append("failed: \(why.prefix(120))")
                }
            }
            try await migration.value
            #expect(outcomes.contains { $0.hasPrefix("failed") }, "a check ran while the slot moved: \(outcomes)")
            let after = try await check(config)
            #expect(after.status == .pass && after.primaryRows == 8000, "once the slot settled: \(after.error ?? "") \(after.tables)")
        }
    }
}

@Suite struct ClusterLogicTests {
    @Test("slots: CRC16/XMODEM modulo 16384, with hash tags as Redis defines them")
    func slotsFollowRedis() {
        #expect(ClusterSlot.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(ClusterSlot.of(Array("foo".utf8)) == 12182)
        #expect(ClusterSlot.of(Array("{user1000}.following".utf8)) == ClusterSlot.of(Array("{user1000}.followers".utf8)))
        #expect(ClusterSlot.of(Array("foo{}{bar}".utf8)) == ClusterSlot.of(Array("foo{}{bar}".utf8)))
        #expect(ClusterSlot.of(Array("foo{}{bar}".utf8)) != ClusterSlot.of(Array("bar".utf8)), "an empty tag hashes the whole key")
        #expect(ClusterSlot.of(Array("foo{{bar}}zap".utf8)) == ClusterSlot.of(Array("{bar".utf8)))
        #expect(ClusterSlot.of([0xFF, 0x00, 0x7B]) == ClusterSlot.of([0xFF, 0x00, 0x7B]), "binary keys")
        // NFC and NFD spellings are different keys, in different slots.
        #expect(ClusterSlot.of(Array("caf\u{E9}".utf8)) != ClusterSlot.of(Array("cafe\u{301}".utf8)))
    }

    @Test("CLUSTER NODES: masters, replicas, failed links and slots being migrated")
    func parsesClusterNodes() throws {
        let text = """
        aaa 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460 [5461->-bbb]
        bbb 127.0.0.1:7002@17002 master - 0 0 2 connected 5461-10922 [5461-<-aaa]
        ccc 127.0.0.1:7003@17003 master - 0 0 3 connected 10923-16383
        ddd 127.0.0.1:7004@17004 slave aaa 0 0 1 connected
        eee 127.0.0.1:7005@17005 slave,fail bbb 0 0 2 disconnected
        """
        let map = try ClusterMap(nodesText: text)
        #expect(map.shards.map(\.master.port) == [7001, 7002, 7003])
        #expect(map.shards[0].replicas.map(\.port) == [7004] && map.shards[0].failedReplicas.isEmpty)
        #expect(map.shards[1].failedReplicas.map(\.port) == [7005])
        #expect(map.shards[2].replicas.isEmpty)
        #expect(map.movingSlots == [5461])
        #expect(map.shard(forSlot: 0) == 0 && map.shard(forSlot: 5461) == 1 && map.shard(forSlot: 16383) == 2)
        #expect(map.uncovered.isEmpty)
        let partial = try ClusterMap(nodesText: "aaa 127.0.0.1:7001@17001 master - 0 0 1 connected 0-100")
        #expect(partial.uncovered == [101...16383])
        #expect(throws: SyncError.self) { try ClusterMap(nodesText: "aaa 127.0.0.1:7001@17001 master - 0 0 1 connected 0-100\nbbb 127.0.0.1:7002@17002 master - 0 0 1 connected 50-60") }
    }
}
