import Foundation
import Testing
import TestSupport
@testable import RedisClient
@testable import RedisSource
@testable import SyncCore

/// The Sentinel-managed group of integration/redis-sentinel.sh: a master, an HA replica, a DR
/// replica that is never promoted, and three sentinels.
enum TestSentinel {
    static let sentinels = (ProcessInfo.processInfo.environment["SYNCD_SENTINELS"] ?? "127.0.0.1:26395,127.0.0.1:26396,127.0.0.1:26397")
        .split(separator: ",").map { part -> RedisAddress in
            let pieces = part.split(separator: ":")
            return RedisAddress(host: String(pieces[0]), port: Int(pieces[1]) ?? 26395)
        }
    static let masterName = ProcessInfo.processInfo.environment["SYNCD_SENTINEL_MASTER"] ?? "syncd-ha"
    static let sentinelPassword = ProcessInfo.processInfo.environment["SYNCD_SENTINEL_PASSWORD"] ?? "syncd-sentinel-password"
    static let drPort = Int(ProcessInfo.processInfo.environment["SYNCD_SENTINEL_DR_PORT"] ?? "") ?? 26392

    static func sentinelSide(name: String = masterName, sentinels: [RedisAddress] = sentinels) -> EndpointConfig {
        var endpoint = TestRedis.endpoint(0)
        endpoint.host = "sentinel:\(name)"
        endpoint.port = sentinels[0].port
        endpoint.options = SentinelOptions(sentinels: sentinels, masterName: name, user: nil, password: Secret(sentinelPassword))
        return endpoint
    }

    static var pair: SourceConfig {
        TestRedis.source("redis-sentinel", dr: TestRedis.endpoint(drPort), mode: .replica, primary: sentinelSide())
    }

    static func script(_ arguments: String...) async throws {
        try await runIntegrationScript("redis-sentinel.sh", arguments)
    }

    /// A sentinel connection for the test's own questions.
    static func sentinel(_ index: Int = 0) async throws -> RedisConnection {
        let endpoint = EndpointConfig(host: sentinels[index].host, port: sentinels[index].port, password: Secret(sentinelPassword), connectTimeoutSeconds: 2)
        do {
            return try await RedisConnection.connect(RedisConnectionParameters(endpoint: endpoint))
        } catch {
            throw TestSetupError("cannot reach the sentinel at \(sentinels[index].text): \(error). Start them with: integration/redis-sentinel.sh start")
        }
    }

    static func masterPort() async throws -> Int {
        let reply = try await sentinel().run("SENTINEL", "get-master-addr-by-name", masterName)
        guard case let .array(items) = reply, items.count == 2, let port = items[1].text.flatMap({ Int($0) }) else {
            throw TestSetupError("no master address from the sentinels: \(reply)")
        }
        return port
    }
}

extension RedisServers {
    @Suite struct SentinelTests {
        static let options = CheckOptions(maxDiffs: 100, rounds: 2, catchUpTimeout: .seconds(10))

        /// Samples until the source is in sync (bounded).
        func settledSample(_ source: RedisSource, timeout: Duration = .seconds(20)) async throws -> Sample {
            let deadline = ContinuousClock.now + timeout
            var sample = await source.sample()
            while sample.state != .inSync, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                sample = await source.sample()
            }
            return sample
        }

        @Test("a Sentinel-managed primary: syncd follows SENTINEL FAILOVER; the gate fails while the roles move and with the old check, and passes after a new one")
        func followsAFailover() async throws {
            try await TestSentinel.script("reset")
            let config = TestSentinel.pair
            let source = RedisSource(config: config)
            let before = try await TestSentinel.masterPort()
            let master = try await TestRedis.connect(TestRedis.endpoint(before))
            for index in 0..<200 { try await master.run("SET", "sentinel:key:\(index)", "value-\(index)") }

            let first = try await settledSample(source)
            #expect(first.state == .inSync, "\(first.errors)")
            #expect(first.details["primary_master"]?.hasPrefix("127.0.0.1:\(before) ") == true, "\(first.details)")
            #expect(first.details["primary_master"]?.contains("3 of 3 sentinels answered") == true, "\(first.details)")
            let oldStamp = try #require(first.topologyStamp)
            let check = try await source.check(Self.options) { _ in }
            #expect(check.status == .pass && check.primaryRows == 200, "\(check.error ?? "") \(check.tables)")
            #expect(check.topologyStamp == oldStamp)
            let policy = config.policy
            #expect(Gate.evaluate(source: config.name, policy: policy, sample: first, check: check.summary, now: Date()).status == .pass)

            // The failover runs while syncd polls; every sample from the move on fails the gate
            // with the pre-failover check.
            let failover = Task { try await TestSentinel.script("failover", "--no-wait") }
            var during: [Sample] = []
            while !failover.isCancelled {
                let sample = await source.sample()
                if sample.topologyStamp != oldStamp || sample.state != .inSync { during.append(sample) }
                if (try? await TestSentinel.masterPort()) != before, sample.topologyStamp != oldStamp, sample.state == .inSync { break }
                if during.count > 300 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            try await failover.value
            #expect(!during.isEmpty, "the move was seen")
            for sample in during {
                let verdict = Gate.evaluate(source: config.name, policy: policy, sample: sample, check: check.summary, now: Date())
                #expect(verdict.status == .fail, "a sample taken while or after the roles moved passed with the old check: \(sample.state) \(sample.details)")
            }
            let after = try await settledSample(source)
            let moved = try await TestSentinel.masterPort()
            #expect(moved != before)
            #expect(after.details["primary_master"]?.hasPrefix("127.0.0.1:\(moved) ") == true, "\(after.details)")
            #expect(after.details["primary_failover"]?.contains("moved from 127.0.0.1:\(before) to 127.0.0.1:\(moved)") == true, "\(after.details)")
            let stale = Gate.evaluate(source: config.name, policy: policy, sample: after, check: check.summary, now: Date())
            #expect(stale.status == .fail && stale.reasons.contains { $0.contains("the roles moved") }, "\(stale.reasons)")

            // The DR replica follows the new master: a new check compares it and passes.
            let newMaster = try await TestRedis.connect(TestRedis.endpoint(moved))
            try await newMaster.run("SET", "sentinel:after", "failover")
            let recheck = try await source.check(Self.options) { _ in }
            #expect(recheck.status == .pass && recheck.primaryRows == 201, "\(recheck.error ?? "") \(recheck.tables)")
            let fresh = try await settledSample(source)
            let verdict = Gate.evaluate(source: config.name, policy: policy, sample: fresh, check: recheck.summary, now: Date())
            #expect(verdict.status == .pass, "\(verdict.reasons)")
        }

        @Test("a failover in the middle of a check: the check does not pass")
        func aFailoverDuringACheckFailsIt() async throws {
            try await TestSentinel.script("reset")
            let config = TestSentinel.pair
            let master = try await TestRedis.connect(TestRedis.endpoint(try await TestSentinel.masterPort()))
            var batch = RESPBatch()
            for index in 0..<200_000 { batch.append(RedisCommand("SET", "bulk:\(index)", "value-\(index)")) }
            _ = try await master.pipeline(batch) { replies in while replies.pending > 0 { _ = try replies.next() } }
            let source = RedisSource(config: config)
            _ = try await settledSample(source, timeout: .seconds(30))
            // The check starts on the old master; the failover comes while it reads.
            let check = Task { try await source.check(Self.options) { _ in } }
            try await Task.sleep(for: .milliseconds(400))
            try await TestSentinel.script("failover", "--no-wait")
            let outcome: String
            do {
                let result = try await check.value
                #expect(result.status == .fail, "a check across a failover passed: \(result.tables)")
                outcome = result.error ?? "differences: \(result.missing + result.extra + result.changed)"
            } catch {
                outcome = "\(error)"
            }
            print("sentinel: a check across SENTINEL FAILOVER ended with: \(outcome.prefix(300))")
            try await TestSentinel.script("reset")
        }

        @Test("a server the sentinels name as master but that reports role replica is never taken for the primary")
        func aDemotedMasterIsRefused() async throws {
            try await TestSentinel.script("reset")
            // One sentinel told to watch the DR replica under a name of its own: it names a replica as master.
            let sentinel = try await TestSentinel.sentinel()
            let name = "syncd-stale-\(UUID().uuidString.prefix(6))"
            try await sentinel.run("SENTINEL", "MONITOR", name, TestRedis.host, String(TestSentinel.drPort), "2")
            defer { Task { _ = try? await TestSentinel.sentinel().run("SENTINEL", "REMOVE", name) } }
            try await sentinel.run("SENTINEL", "SET", name, "auth-pass", TestRedis.Servers.password)
            let config = TestRedis.source("redis-stale", dr: TestRedis.endpoint(TestSentinel.drPort), mode: .replica,
                                          primary: TestSentinel.sentinelSide(name: name, sentinels: [TestSentinel.sentinels[0]]))
            let source = RedisSource(config: config)
            let sample = await source.sample()
            #expect(sample.state == .broken, "\(sample.state) \(sample.errors)")
            #expect(sample.errors.joined().contains("reports role 'slave'"), "\(sample.errors)")
            await #expect(throws: SyncError.self) { _ = try await source.check(Self.options) { _ in } }
        }

        @Test("no sentinel reachable: unreachable, naming every sentinel asked; nothing connects to a guessed master")
        func unreachableSentinels() async throws {
            let nowhere = [RedisAddress(host: "127.0.0.1", port: 1), RedisAddress(host: "127.0.0.1", port: 2)]
            let config = TestRedis.source("redis-nowhere", dr: TestRedis.endpoint(TestSentinel.drPort), mode: .replica,
                                          primary: TestSentinel.sentinelSide(sentinels: nowhere))
            let sample = await RedisSource(config: config).sample()
            #expect(sample.state == .unreachable)
            let text = sample.errors.joined()
            #expect(text.contains("no sentinel answered") && text.contains("127.0.0.1:1") && text.contains("127.0.0.1:2"), "\(text)")
        }

        @Test("sentinel auth: a wrong sentinel password is an error that names the sentinel, never a guess")
        func wrongSentinelPassword() async throws {
            var side = TestSentinel.sentinelSide()
            var options = try #require(side.sentinel)
            options.password = Secret("not-the-password")
            side.options = options
            let config = TestRedis.source("redis-badauth", dr: TestRedis.endpoint(TestSentinel.drPort), mode: .replica, primary: side)
            let sample = await RedisSource(config: config).sample()
            #expect(sample.state == .unreachable)
            #expect(sample.errors.joined().contains("WRONGPASS") || sample.errors.joined().contains("invalid"), "\(sample.errors)")
        }
    }
}
