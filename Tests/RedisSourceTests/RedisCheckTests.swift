import Foundation
import Testing
import TestSupport
@testable import RedisClient
@testable import RedisSource
@testable import SyncCore

/// Checks and reconcile against the real servers of integration/redis.sh. The independent DR
/// instance is writable, so differences are planted there; the replica pair shows in-flight writes.
extension RedisServers {
    @Suite struct RedisCheckTests {
        init() async throws {
            try await TestRedis.script("reset")
        }

        static let options = CheckOptions(maxDiffs: 100, rounds: 2, catchUpTimeout: .seconds(10))

        /// One key of every type, some with a TTL, in `database`.
        func seed(_ connection: RedisConnection) async throws {
            try await connection.run("SET", "s:plain", "hello")
            try await connection.run("SET", "s:ttl", "expiring", "EX", "600")
            try await connection.run("HSET", "h:user", "name", "ada", "lang", "en", "age", "36")
            try await connection.run("RPUSH", "l:queue", "a", "b", "c", "d")
            try await connection.run("SADD", "set:tags", "x", "y", "z", "1", "2")
            try await connection.run("ZADD", "z:board", "1", "alice", "2.5", "bob", "-3", "carol")
            try await connection.run("XADD", "x:events", "1-1", "type", "login", "user", "ada")
            try await connection.run("XADD", "x:events", "2-1", "type", "logout", "user", "ada")
        }

        func check(_ config: SourceConfig, _ options: CheckOptions = RedisCheckTests.options) async throws -> CheckResult {
            try await RedisSource(config: config).check(options) { _ in }
        }

        func diff(_ result: CheckResult, _ key: String) -> Diff? {
            result.diffs.first { $0.key == .object(["key": .string(key)]) }
        }

        @Test func aCopiedInstanceOfEveryTypeIsEqual() async throws {
            let config = TestRedis.independentPair
            let primary = try await TestRedis.connect(TestRedis.primary)
            try await seed(primary)
            try await RedisSource(config: config).forceFullSync()
            let result = try await check(config)
            #expect(result.status == .pass)
            #expect(result.ratio == 1)
            #expect(result.primaryRows == 7)
            #expect(result.drRows == 7)
            #expect(result.diffs.isEmpty)
            #expect(result.tables.map(\.table) == ["db0"])
            // Everything but the set matches byte for byte; a set kept as a hash table serializes in the
            // order of each server's random hash seed, so it may need the canonical digest.
            let counts = try #require(comparedCounts(result))
            #expect(counts.bytes >= 6 && counts.bytes + counts.digest == 7, "\(result.notes)")
        }

        @Test func everyKindOfDifferenceIsFoundWithItsKeyAndKind() async throws {
            let config = TestRedis.independentPair
            let primary = try await TestRedis.connect(TestRedis.primary)
            let dr = try await TestRedis.connect(TestRedis.independent)
            try await seed(primary)
            try await RedisSource(config: config).forceFullSync()
            // One difference per type, plus missing, extra, type and TTL differences.
            try await dr.run("SET", "s:plain", "HELLO")
            try await dr.run("HSET", "h:user", "age", "37")
            try await dr.run("LSET", "l:queue", "0", "z")
            try await dr.run("SREM", "set:tags", "1")
            try await dr.run("ZADD", "z:board", "2.75", "bob")
            try await dr.run("XADD", "x:events", "3-1", "type", "extra")
            try await primary.run("SET", "only:primary", "1")
            try await dr.run("SET", "only:dr", "1")
            try await primary.run("SET", "typed", "string")
            try await dr.run("RPUSH", "typed", "list")
            try await dr.run("PERSIST", "s:ttl")

            let result = try await check(config)
            #expect(result.status == .fail)
            #expect(result.missing == 1)
            #expect(result.extra == 1)
            #expect(result.changed == 8)
            #expect(diff(result, "only:primary")?.kind == .missing)
            #expect(diff(result, "only:dr")?.kind == .extra)
            for key in ["s:plain", "h:user", "l:queue", "set:tags", "z:board", "x:events"] {
                #expect(diff(result, key)?.kind == .changed, "\(key)")
                #expect(diff(result, key)?.detail == "value", "\(key)")
            }
            #expect(diff(result, "typed")?.detail?.hasPrefix("type") == true)
            #expect(diff(result, "s:ttl")?.detail?.hasPrefix("ttl") == true)
            #expect(result.primaryRows == 9)
            #expect(result.ratio == Ratio.strict(differing: 10, primary: 9))
            #expect(result.countRatio == Ratio.countOnly(primary: 9, dr: 9))
        }

        /// Hashtable sets and hashes are compared from the DUMP payload already read: its digest
        /// must be the one a whole read gives, for raw, integer-encoded and LZF-compressed strings.
        @Test func hashtableSetsAndHashesDigestFromTheirPayloadAsFromAWholeRead() async throws {
            let primary = try await TestRedis.connect(TestRedis.primary)
            let long = String(repeating: "compressible-", count: 20)
            try await primary.run("SADD", "rdb:set", "5", "-300", "70000", "-2000000000", "plain", long, "x" + long)
            try await primary.run("HSET", "rdb:hash", "a", "1", "n", "-70000", "long", long)
            for index in 0..<200 { try await primary.run("HSET", "rdb:hash", "f\(index)", "v\(index)") }
            for (key, encoding) in [("rdb:set", "hashtable"), ("rdb:hash", "hashtable")] {
                #expect(try await primary.run("OBJECT", "ENCODING", key).text == encoding)
                let payload = try #require(try await primary.run("DUMP", key).bytes)
                let fromPayload = try #require(RDBPayload.digest(payload), "\(key) was not parsed")
                guard case let .value(whole, _) = try await KeyReader.readWhole(primary, Array(key.utf8)) else {
                    Issue.record("\(key) could not be read whole")
                    continue
                }
                #expect(fromPayload == whole, "\(key)")
            }
            // A compact encoding is not parsed (its bytes compare as they are).
            try await primary.run("SADD", "rdb:small", "1", "2")
            #expect(RDBPayload.digest(try #require(try await primary.run("DUMP", "rdb:small").bytes)) == nil)
        }

        @Test func equalValuesWithDifferentEncodingsAreEqual() async throws {
            let config = TestRedis.independentPair
            let primary = try await TestRedis.connect(TestRedis.primary)
            let dr = try await TestRedis.connect(TestRedis.independent)
            // The same hash and set, compact on the primary and as hash tables on the DR side, elements added in another order.
            try await dr.run("CONFIG", "SET", "hash-max-listpack-entries", "0")
            try await dr.run("CONFIG", "SET", "set-max-intset-entries", "0")
            // (integration/redis.sh reset, run before every test, puts the defaults back.)
            try await primary.run("HSET", "enc:h", "a", "1", "b", "2", "c", "3")
            try await dr.run("HSET", "enc:h", "c", "3", "b", "2", "a", "1")
            try await primary.run("SADD", "enc:s", "1", "2", "3")
            try await dr.run("SADD", "enc:s", "3", "2", "1")
            #expect(try await primary.run("OBJECT", "ENCODING", "enc:h").text != dr.run("OBJECT", "ENCODING", "enc:h").text)
            #expect(try await primary.run("DUMP", "enc:h").bytes != dr.run("DUMP", "enc:h").bytes, "DUMP bytes differ for equal values")
            let result = try await check(config)
            #expect(result.status == .pass, "\(result.diffs)")
            #expect(result.primaryRows == 2)
            #expect(comparedCounts(result)?.digest == 2, "\(result.notes)")
        }

        @Test func bigKeysArePagedAndADeepDifferenceIsFound() async throws {
            let config = TestRedis.independentPair
            let primary = try await TestRedis.connect(TestRedis.primary)
            let dr = try await TestRedis.connect(TestRedis.independent)
            let fields = (0..<5000).flatMap { ["f\($0)", "value-\($0)"] }
            try await primary.command(RedisCommand(["HSET", "big:h"] + fields)).errorIfAny()
            try await primary.command(RedisCommand(["RPUSH", "big:l"] + (0..<3000).map { "item-\($0)" })).errorIfAny()
            try await primary.command(RedisCommand(["SADD", "big:s"] + (0..<4000).map { "m\($0)" })).errorIfAny()
            try await primary.command(RedisCommand(["ZADD", "big:z"] + (0..<3000).flatMap { [String($0), "m\($0)"] })).errorIfAny()
            try await primary.run("SET", "big:str", String(repeating: "0123456789", count: 60_000))
            for id in 1...1500 { try await primary.run("XADD", "big:x", "\(id)-0", "n", String(id)) }
            try await RedisSource(config: config).forceFullSync()
            let equal = try await check(config)
            #expect(equal.status == .pass, "\(equal.diffs)")

            try await dr.run("HSET", "big:h", "f4321", "changed")
            try await dr.run("LSET", "big:l", "2500", "changed")
            try await dr.run("SETRANGE", "big:str", "500000", "X")
            try await dr.run("ZADD", "big:z", "2999.5", "m2999")
            let found = try await check(config)
            #expect(found.changed == 4)
            for key in ["big:h", "big:l", "big:str", "big:z"] { #expect(diff(found, key)?.detail == "value", "\(key)") }
        }

        @Test func ttlWithinToleranceIsEqualAndExpiredKeysAreNotDifferences() async throws {
            let config = TestRedis.independentPair
            let primary = try await TestRedis.connect(TestRedis.primary)
            let dr = try await TestRedis.connect(TestRedis.independent)
            try await primary.run("SET", "ttl:close", "v", "PX", "100000")
            try await dr.run("SET", "ttl:close", "v", "PX", "99500")
            try await primary.run("SET", "ttl:far", "v", "PX", "100000")
            try await dr.run("SET", "ttl:far", "v", "PX", "50000")
            // Only on the primary, and gone before the re-check round: not a difference.
            try await primary.run("SET", "ttl:short", "v", "PX", "700")
            let result = try await check(config)
            #expect(diff(result, "ttl:close") == nil)
            #expect(diff(result, "ttl:far")?.detail?.hasPrefix("ttl") == true)
            #expect(diff(result, "ttl:short") == nil, "\(result.diffs)")
            #expect(result.changed == 1)
            #expect(result.missing == 0)
        }

        @Test func databasesOtherThanZeroAreChecked() async throws {
            let config = TestRedis.source("redis-db3", dr: TestRedis.independent, mode: .independent, databases: [0, 3])
            let primary3 = try await TestRedis.connect(TestRedis.primary, database: 3)
            let dr3 = try await TestRedis.connect(TestRedis.independent, database: 3)
            try await primary3.run("SET", "in-db3", "1")
            try await primary3.run("SET", "both", "1")
            try await RedisSource(config: config).forceFullSync()
            #expect(try await dr3.run("GET", "in-db3").text == "1")
            try await dr3.run("DEL", "in-db3")
            let result = try await check(config)
            #expect(result.tables.map(\.table) == ["db0", "db3"])
            #expect(result.diffs.count == 1)
            #expect(result.diffs.first?.table == "db3")
            #expect(diff(result, "in-db3")?.kind == .missing)
            // --table db3 checks that database alone; a database the source does not have is an error.
            let only3 = try await check(config, CheckOptions(tables: ["db3"], rounds: 1))
            #expect(only3.tables.map(\.table) == ["db3"])
            await #expect(throws: SyncError.self) { _ = try await check(config, CheckOptions(tables: ["db7"], rounds: 1)) }
            try await primary3.run("FLUSHDB")
            try await dr3.run("FLUSHDB")
        }

        /// With a native replica attached and close behind, the replica sizes the keys (the primary
        /// is spared MEMORY USAGE); keys it lacks are sized on the primary, small and big alike.
        /// (The replica is made writable for a moment to plant the differences.)
        @Test func keysTheReplicaLacksAreSizedOnThePrimaryAndFound() async throws {
            let config = TestRedis.replicaPair
            let primary = try await TestRedis.connect(TestRedis.primary)
            let replica = try await TestRedis.connect(TestRedis.replica)
            let big = String(repeating: "x", count: 100_000)
            for key in ["both:small", "gone:small"] { try await primary.run("SET", key, "1") }
            for key in ["both:big", "gone:big"] { try await primary.run("SET", key, big) }
            #expect(try await eventually { try await replica.run("EXISTS", "gone:big").integer == 1 })
            try await replica.run("CONFIG", "SET", "replica-read-only", "no")
            try await replica.run("DEL", "gone:small", "gone:big")
            try await replica.run("APPEND", "both:big", "y")
            try await replica.run("CONFIG", "SET", "replica-read-only", "yes")
            let primaryInfo = try ReplicationInfo(fields: parseInfo(try await primary.run("INFO", "replication").text ?? ""))
            let replicaInfo = try ReplicationInfo(fields: parseInfo(try await replica.run("INFO", "replication").text ?? ""))
            #expect(RedisChecker.replicaMaySize(primary: primaryInfo, replica: replicaInfo), "the replica is attached and caught up")
            let result = try await check(config, CheckOptions(maxDiffs: 100, rounds: 1))
            #expect(diff(result, "gone:small")?.kind == .missing)
            #expect(diff(result, "gone:big")?.kind == .missing)
            #expect(diff(result, "both:big")?.kind == .changed)
            #expect(result.diffs.count == 3 && result.primaryRows == 4, "\(result.diffs)")
        }

        /// A paused (or lagging) replica does not size keys: its copies may be far smaller than the
        /// primary's, whose DUMP would then be unguarded. The check still finds everything.
        @Test func aPausedReplicaLeavesTheSizingToThePrimary() async throws {
            let config = TestRedis.replicaPair
            let source = RedisSource(config: config)
            let primary = try await TestRedis.connect(TestRedis.primary)
            let replica = try await TestRedis.connect(TestRedis.replica)
            try await primary.run("SET", "grows", "1")
            #expect(try await eventually { try await replica.run("EXISTS", "grows").integer == 1 })
            try await source.pause()
            let result: CheckResult
            let mayReplicaSize: Bool
            do {
                try await primary.run("SET", "grows", String(repeating: "x", count: 100_000))
                try await primary.run("SET", "only:small", "1")
                let primaryInfo = try ReplicationInfo(fields: parseInfo(try await primary.run("INFO", "replication").text ?? ""))
                let replicaInfo = try ReplicationInfo(fields: parseInfo(try await replica.run("INFO", "replication").text ?? ""))
                mayReplicaSize = RedisChecker.replicaMaySize(primary: primaryInfo, replica: replicaInfo)
                result = try await check(config, CheckOptions(maxDiffs: 100, rounds: 1))
            } catch {
                try await source.resume()
                throw error
            }
            try await source.resume()
            #expect(!mayReplicaSize)
            #expect(diff(result, "grows")?.kind == .changed)
            #expect(diff(result, "only:small")?.kind == .missing)
            #expect(result.diffs.count == 2, "\(result.diffs)")
        }

        @Test func keysWrittenDuringTheCheckAreNotFalseDifferences() async throws {
            let config = TestRedis.replicaPair
            let primary = try await TestRedis.connect(TestRedis.primary)
            let writer = try await TestRedis.connect(TestRedis.primary)
            let commands = (0..<20_000).map { RedisCommand("SET", "load:\($0)", "v0") }
            _ = try await primary.pipeline(commands) { replies in for _ in commands { _ = try replies.next() } }
            _ = try await RedisSource(config: config).waitForDrain(timeout: .seconds(20))
            // Keep writing (updates, new keys, deletes) for the whole check; it stops by itself after 30 s at most.
            let load = Task {
                let clock = ContinuousClock()
                let end = clock.now + .seconds(30)
                var round = 0
                while !Task.isCancelled, clock.now < end {
                    round += 1
                    let batch = (0..<200).map { index -> RedisCommand in
                        let key = "load:\(Int.random(in: 0..<25_000))"
                        return index % 10 == 0 ? RedisCommand("DEL", key) : RedisCommand("SET", key, "v\(round)")
                    }
                    _ = try? await writer.pipeline(batch) { replies in for _ in batch { _ = try replies.next() } }
                    try? await Task.sleep(for: .milliseconds(5))
                }
            }
            let result = try await check(config, CheckOptions(maxDiffs: 100, rounds: 3, catchUpTimeout: .seconds(10)))
            load.cancel()
            _ = await load.value
            #expect(result.status == .pass, "\(result.diffs.prefix(5)) \(result.tables.map { $0.reason ?? "" })")
            #expect(result.diffs.isEmpty)
            #expect(result.primaryRows > 15_000)
        }

        @Test func reconcileDryRunChangesNothingThenApplyConverges() async throws {
            let config = TestRedis.independentPair
            let source = RedisSource(config: config)
            let primary = try await TestRedis.connect(TestRedis.primary)
            let dr = try await TestRedis.connect(TestRedis.independent)
            try await seed(primary)
            try await source.forceFullSync()
            try await dr.run("SET", "s:plain", "HELLO")
            try await dr.run("DEL", "h:user")
            try await dr.run("SET", "only:dr", "1")
            try await dr.run("PERSIST", "s:ttl")
            let found = try await source.check(Self.options) { _ in }
            #expect(found.diffs.count == 4)

            let plan = try await source.planReconcile(from: found)
            #expect(plan.upserts == 3)
            #expect(plan.deletes == 1)
            #expect(plan.batches.flatMap(\.statements).contains { $0.hasPrefix("DEL only:dr") })
            #expect(plan.batches.flatMap(\.statements).contains { $0.hasPrefix("RESTORE h:user") })
            // Planning wrote nothing.
            #expect(try await dr.run("GET", "s:plain").text == "HELLO")
            #expect(try await dr.run("EXISTS", "h:user").integer == 0)

            let outcome = try await source.applyReconcile(plan)
            #expect(outcome.status == .pass)
            #expect(outcome.rowsUpserted == 3)
            #expect(outcome.rowsDeleted == 1)
            #expect(outcome.stillDiffering == 0)
            #expect(try await dr.run("PTTL", "s:ttl").integer ?? 0 > 590_000, "the primary's remaining TTL is restored")
            let after = try await source.check(Self.options) { _ in }
            #expect(after.status == .pass, "\(after.diffs)")
            // A second apply of the same plan writes the same values: still converged.
            let again = try await source.applyReconcile(plan)
            #expect(again.stillDiffering == 0)
            #expect(again.rowsDeleted == 0)
        }

        @Test func fullSyncOfAnIndependentInstanceCopiesEverythingAndRemovesExtras() async throws {
            let config = TestRedis.independentPair
            let primary = try await TestRedis.connect(TestRedis.primary)
            let dr = try await TestRedis.connect(TestRedis.independent)
            try await seed(primary)
            try await dr.run("SET", "stale:only-on-dr", "1")
            try await dr.run("SET", "s:plain", "stale")
            try await RedisSource(config: config).forceFullSync()
            #expect(try await dr.run("EXISTS", "stale:only-on-dr").integer == 0)
            #expect(try await dr.run("GET", "s:plain").text == "hello")
            #expect(try await dr.run("DBSIZE").integer == 7)
            #expect(try await check(config).status == .pass)
        }
    }
}

/// How round 1 compared keys, from the check's note: (by serialized bytes, by canonical digest).
func comparedCounts(_ result: CheckResult) -> (bytes: Int, digest: Int)? {
    guard let note = result.notes.first(where: { $0.hasPrefix("round 1 compared ") }) else { return nil }
    let numbers = note.split(separator: " ").compactMap { Int($0) }
    return numbers.count >= 3 ? (numbers[1], numbers[2]) : nil
}

extension RedisValue {
    func errorIfAny() throws {
        if case let .error(message) = self { throw TestSetupError(message) }
    }
}
