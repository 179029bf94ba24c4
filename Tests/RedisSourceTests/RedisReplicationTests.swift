import Foundation
import Testing
import TestSupport
@testable import RedisClient
@testable import RedisSource
@testable import SyncCore

/// Against the real servers of integration/redis.sh; serialized because they share them.
extension RedisServers {
    @Suite struct RedisReplicationTests {
        init() async throws {
            try await TestRedis.script("reset")
        }

        /// Writes `count` keys of about 100 bytes each on the primary.
        func write(_ connection: RedisConnection, prefix: String, count: Int = 200) async throws {
            let commands = (0..<count).map { RedisCommand("SET", "\(prefix):\($0)", String(repeating: "v", count: 100)) }
            _ = try await connection.pipeline(commands) { replies in
                for _ in commands { _ = try replies.next() }
            }
        }

        @Test func anAttachedReplicaIsInSyncWithZeroLag() async throws {
            let source = RedisSource(config: TestRedis.replicaPair)
            #expect(try await eventually { await source.sample().state == .inSync })
            let sample = await source.sample()
            #expect(sample.topology == "replica")
            #expect(sample.lagVolume == 0)
            #expect(sample.lagSeconds == 0)
            #expect(sample.unit == .bytes)
            #expect(sample.details["link"] == "up")
        }

        @Test func lagGrowsWhileTheLinkIsCutAndReturnsToZero() async throws {
            let source = RedisSource(config: TestRedis.replicaPair)
            let primary = try await TestRedis.connect(TestRedis.primary)
            #expect(try await eventually { await source.sample().state == .inSync })
            try await TestRedis.script("freeze", "replica")
            do {
                try await write(primary, prefix: "cut-a")
                let first = await source.sample()
                try await write(primary, prefix: "cut-b")
                let second = await source.sample()
                // The hung replica cannot answer; the primary still knows what it acknowledged.
                #expect(first.state == .unreachable)
                #expect(second.errors.first?.contains("DR \(TestRedis.host):\(TestRedis.replica.port) is unreachable") == true, "\(second.errors)")
                let before = try #require(first.lagVolume)
                let after = try #require(second.lagVolume)
                #expect(before > 0)
                #expect(after > before, "lag must grow with every write while the link is cut")
            }
            try await TestRedis.script("thaw", "replica")
            #expect(try await eventually {
                let sample = await source.sample()
                return sample.state == .inSync && sample.lagVolume == 0
            })
        }

        @Test func pauseParksTheReplicaAndResumeCatchesUpWithAPartialResync() async throws {
            let source = RedisSource(config: TestRedis.replicaPair)
            let primary = try await TestRedis.connect(TestRedis.primary)
            let replica = try await TestRedis.connect(TestRedis.replica)
            try await source.pause()
            let paused = await source.sample()
            #expect(paused.state == .paused)
            #expect(try await replica.info("replication")["master_port"] == "0")
            #expect(try await replica.info("replication")["slave_read_only"] == "1", "a paused replica stays read-only")
            await #expect(throws: SyncError.self) { try await source.pause() }

            try await primary.run("SET", "during-pause", "1")
            // The primary's offset moved on; the parked replica's did not, and the key never arrives.
            #expect(try await eventually { (await source.sample().lagVolume ?? 0) > 0 })
            #expect(try await replica.run("EXISTS", "during-pause").integer == 0)

            let partialBefore = Int(try await primary.info("stats")["sync_partial_ok"] ?? "") ?? -1
            let fullBefore = Int(try await primary.info("stats")["sync_full"] ?? "") ?? -1
            try await source.resume()
            #expect(try await eventually { try await replica.run("EXISTS", "during-pause").integer == 1 })
            #expect(Int(try await primary.info("stats")["sync_partial_ok"] ?? "") == partialBefore + 1)
            #expect(Int(try await primary.info("stats")["sync_full"] ?? "") == fullBefore, "resume must not cost a full sync")
            #expect(try await eventually { await source.sample().state == .inSync })
            #expect(await source.sample().details["last_resync"]?.contains("partial resync") == true)
            await #expect(throws: SyncError.self) { try await source.resume() }
        }

        @Test func forceFullSyncIsProvenByThePrimarysCounters() async throws {
            let source = RedisSource(config: TestRedis.replicaPair)
            let primary = try await TestRedis.connect(TestRedis.primary)
            let replica = try await TestRedis.connect(TestRedis.replica)
            try await write(primary, prefix: "full")
            let fullBefore = Int(try await primary.info("stats")["sync_full"] ?? "") ?? -1
            try await source.forceFullSync()
            #expect(Int(try await primary.info("stats")["sync_full"] ?? "") == fullBefore + 1)
            #expect(try await replica.run("DBSIZE").integer == primary.run("DBSIZE").integer)
            #expect(try await replica.info("replication")["role"] == "slave")
            #expect(await source.sample().details["last_resync"]?.contains("full resync") == true)
        }

        @Test func drainWaitsForTheReplicaThenSucceeds() async throws {
            let source = RedisSource(config: TestRedis.replicaPair)
            let primary = try await TestRedis.connect(TestRedis.primary)
            let replica = try await TestRedis.connect(TestRedis.replica)
            // CLIENT PAUSE WRITE on a replica holds back applying the primary's stream while it keeps answering.
            try await replica.run("CLIENT", "PAUSE", "10000", "WRITE")
            try await write(primary, prefix: "drain")
            let short = await #expect(throws: SyncError.self) { _ = try await source.waitForDrain(timeout: .milliseconds(500)) }
            #expect("\(short.map { "\($0)" } ?? "")".contains("bytes still behind"))

            let unpaused = UnpauseMark()
            let unpause = Task {
                try await Task.sleep(for: .seconds(1))
                unpaused.set()
                try await replica.run("CLIENT", "UNPAUSE")
            }
            let result = try await source.waitForDrain(timeout: .seconds(20))
            try await unpause.value
            #expect(unpaused.isSet, "the drain waited for the replica to apply the stream")
            #expect(Int64(result.reached)! >= Int64(result.target)!)
            #expect(try await replica.run("EXISTS", "drain:199").integer == 1)
        }

        @Test func drainOnAPausedReplicaFailsAtOnce() async throws {
            let source = RedisSource(config: TestRedis.replicaPair)
            try await source.pause()
            let error = await #expect(throws: SyncError.self) { _ = try await source.waitForDrain(timeout: .seconds(30)) }
            #expect("\(error.map { "\($0)" } ?? "")".contains("paused"))
            try await source.resume()
        }

        @Test func reconcileIntoAReplicaFailsAndSaysToForceAFullSync() async throws {
            let source = RedisSource(config: TestRedis.replicaPair)
            let check = CheckResult(source: "redis-replica", threshold: 0.99999, tables: [], diffs: [], diffsTruncated: false, rounds: 1,
                                    stoppedEarly: false, startedAt: Date(), finishedAt: Date())
            let error = await #expect(throws: SyncError.self) { _ = try await source.planReconcile(from: check) }
            guard case let .unsupported(operation, reason, remedy)? = error else {
                Issue.record("expected unsupported, got \(String(describing: error))")
                return
            }
            #expect(operation == .reconcile)
            #expect(reason.contains("READONLY"))
            #expect(remedy.contains("full sync"))
        }

        @Test func wrongPasswordAndClosedPortAreUnreachableAndFailTheGate() async throws {
            let badPassword = RedisSource(config: TestRedis.source("bad-auth", dr: TestRedis.endpoint(TestRedis.replica.port, password: "wrong"), mode: .replica))
            let sample = await badPassword.sample()
            #expect(sample.state == .unreachable)
            #expect(sample.errors.first?.contains("authentication failed") == true, "\(sample.errors)")
            #expect(sample.errors.first?.contains("WRONGPASS") == true, "\(sample.errors)")
            #expect(sample.errors.first?.contains("wrong") == false, "the password never appears in messages")

            let closed = RedisSource(config: TestRedis.source("closed", dr: TestRedis.replica, mode: .replica, primary: TestRedis.endpoint(1)))
            let down = await closed.sample()
            #expect(down.state == .unreachable)
            #expect(down.errors.first?.contains("primary \(TestRedis.host):1 is unreachable") == true, "\(down.errors)")
            #expect(down.lagSeconds == nil, "unknown lag is never reported as zero")

            let passing = CheckSummary(finishedAt: Date(), ratio: 1, countRatio: 1)
            for failing in [sample, down] {
                let verdict = Gate.evaluate(source: "redis", policy: TestRedis.replicaPair.policy, sample: failing, check: passing, now: Date())
                #expect(verdict.status == .fail)
                #expect(verdict.reasons.contains { $0.contains("unreachable") }, "\(verdict.reasons)")
            }
        }

        @Test func heartbeatGivesLagInSecondsOnAnIndependentInstance() async throws {
            let config = TestRedis.source("redis-hb", dr: TestRedis.independent, mode: .independent, heartbeatKey: "syncd:heartbeat")
            let source = RedisSource(config: config)
            let dr = try await TestRedis.connect(TestRedis.independent)
            let first = await source.sample()
            #expect(first.lagSeconds == nil, "no heartbeat on the DR side yet: lag unknown, not zero")
            #expect(first.errors.first?.contains("heartbeat") == true)
            // Something copies the heartbeat key 3 s late.
            let old = Int64(Date().timeIntervalSince1970 * 1000) - 3000
            try await dr.run("SET", "syncd:heartbeat", String(old))
            let late = await source.sample()
            let lag = try #require(late.lagSeconds)
            #expect(lag >= 3 && lag < 10)
            // Our own full sync copies it: the DR side then holds the primary's value.
            try await source.forceFullSync()
            let copied = await source.sample()
            #expect(copied.lagSeconds == 0)
            #expect(copied.state == .inSync)
            // Drain writes a fresh heartbeat and waits for it: nothing copies it now, so it times out.
            await #expect(throws: SyncError.self) { _ = try await source.waitForDrain(timeout: .milliseconds(300)) }
        }
    }
}

/// Set just before a paused replica is released: a drain that returns must have seen it.
final class UnpauseMark: @unchecked Sendable {
    // @unchecked: `value` is read and written under `lock` only.
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
