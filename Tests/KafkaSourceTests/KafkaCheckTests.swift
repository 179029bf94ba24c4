import Foundation
import Testing
@testable import KafkaSource
@testable import SyncCore
import TestSupport

extension KafkaClusters {
    /// Checks against a MirrorMaker 2 layout the test writes itself: DR topics named
    /// `primary.<topic>`, offset syncs in `mm2-offset-syncs.dr.internal` on the source cluster.
    @Suite struct KafkaCheckTests {
        static func sync(_ topic: String, _ partition: Int32, upstream: Int64, downstream: Int64) -> TestKafka.TestRecord {
            let sync = OffsetSync(topic: topic, partition: partition, upstreamOffset: upstream, downstreamOffset: downstream)
            return TestKafka.TestRecord(key: sync.encodedKey, value: sync.encodedValue, timestamp: Int64(Date().timeIntervalSince1970 * 1000))
        }

        /// Source topic with 2 partitions of 40 records; its DR copy starts at DR offset 5 on
        /// partition 0 (five older records there), which only the offset sync explains.
        func mirroredLayout() async throws -> (topic: String, source: [[TestKafka.TestRecord]]) {
            let topic = TestKafka.unique("chk")
            try await TestKafka.createTopic(.primary, topic, partitions: 2)
            try await TestKafka.createTopic(.dr, "primary.\(topic)", partitions: 2)
            let base = Int64(Date().timeIntervalSince1970 * 1000) - 10_000
            var source: [[TestKafka.TestRecord]] = []
            for partition in Int32(0)..<2 {
                var records: [TestKafka.TestRecord] = []
                for index in 0..<40 {
                    let key: String? = index % 7 == 0 ? nil : "key-\(index)"
                    let headers: [String: String] = index % 3 == 0 ? ["h": "\(index)"] : [:]
                    records.append(TestKafka.record(key, "value-\(partition)-\(index)", headers: headers, timestamp: base + Int64(index)))
                }
                try await TestKafka.produce(.primary, topic, partition: partition, records)
                source.append(records)
            }
            try await TestKafka.produce(.dr, "primary.\(topic)", partition: 0, (0..<5).map { TestKafka.record("old", "before-mirroring-\($0)") })
            try await TestKafka.produce(.primary, "mm2-offset-syncs.dr.internal", partition: 0, [
                Self.sync(topic, 0, upstream: 0, downstream: 5), Self.sync(topic, 1, upstream: 0, downstream: 0),
            ])
            return (topic, source)
        }

        func adapter(_ topic: String) throws -> KafkaSource {
            KafkaSource(config: try TestKafka.source(TestKafka.unique("mm2"), mode: .mirrormaker2, topics: [topic], policy: .mirrormaker2))
        }

        static let quick = CheckOptions(maxDiffs: 100, rounds: 2, catchUpTimeout: .milliseconds(500))

        @Test("an exact MirrorMaker 2 copy passes, mapped through its offset syncs; lag is zero")
        func equalCopyPasses() async throws {
            let (topic, source) = try await mirroredLayout()
            for partition in Int32(0)..<2 {
                try await TestKafka.produce(.dr, "primary.\(topic)", partition: partition, source[Int(partition)])
            }
            let adapter = try adapter(topic)
            let sample = await adapter.sample()
            #expect(sample.state == .inSync, "\(sample)")
            #expect(sample.lagVolume == 0)
            #expect(sample.details["offset_mapping"]?.contains("mm2-offset-syncs.dr.internal") == true)
            let drained = try await adapter.waitForDrain(timeout: .seconds(5))
            #expect(drained.target.contains("2 partition(s)"))
            let result = try await adapter.check(Self.quick) { _ in }
            #expect(result.status == .pass, "\(result)")
            #expect(result.primaryRows == 80 && result.drRows == 80)
            #expect(result.ratio == 1 && result.countRatio == 1)
            #expect(result.rounds == 1)
        }

        @Test("missing, extra and changed records are found with their offsets; counts and ratios follow")
        func everyDifferenceKindIsFound() async throws {
            let (topic, source) = try await mirroredLayout()
            var partition0 = source[0]
            partition0[10].value = Array("tampered".utf8)
            partition0[20].headers = ["h": Array("other".utf8)]
            // Partition 0: two changed records and two extra ones at the end; partition 1: last 3 missing.
            try await TestKafka.produce(.dr, "primary.\(topic)", partition: 0, partition0 + [TestKafka.record("x", "extra-1"), TestKafka.record("x", "extra-2")])
            try await TestKafka.produce(.dr, "primary.\(topic)", partition: 1, Array(source[1].prefix(37)))
            let adapter = try adapter(topic)
            let lagging = await adapter.sample()
            #expect(lagging.lagVolume == 3)
            // Wait-for-drain works with MirrorMaker 2 too: here it never arrives, and the timeout says how much is missing.
            await #expect { _ = try await adapter.waitForDrain(timeout: .milliseconds(500)) } throws: { error in
                guard case let SyncError.timeout(message) = error else { return false }
                return message.contains("3 record(s)")
            }

            // Extra records cannot settle: without --full-diff the check stops as soon as it knows.
            let early = try await adapter.check(Self.quick) { _ in }
            #expect(early.status == .fail)
            #expect(early.stoppedEarly && early.diffsTruncated)

            var full = Self.quick
            full.fullDiff = true
            let result = try await adapter.check(full) { _ in }
            #expect(result.status == .fail)
            #expect(!result.stoppedEarly)
            #expect(result.changed == 2 && result.missing == 3 && result.extra == 2, "\(result)")
            #expect(result.primaryRows == 80)
            #expect(result.drRows == 79)
            #expect(abs(result.ratio - (1 - 7.0 / 80)) < 1e-9)
            #expect(abs(result.countRatio - (1 - 1.0 / 80)) < 1e-9)
            #expect(result.rounds == 2, "differences are re-checked before they are reported")
            func has(_ kind: DiffKind, _ fields: [String: Double]) -> Bool {
                result.diffs.contains { diff in
                    guard diff.kind == kind, case let .object(key) = diff.key else { return false }
                    return fields.allSatisfy { key[$0.key] == .number($0.value) }
                }
            }
            #expect(has(.changed, ["partition": 0, "offset": 10, "dr_offset": 15]))
            #expect(has(.changed, ["partition": 0, "offset": 20, "dr_offset": 25]))
            #expect(has(.missing, ["partition": 1, "offset": 37]) && has(.missing, ["partition": 1, "offset": 39]))
            #expect(has(.extra, ["partition": 0, "dr_offset": 45]) && has(.extra, ["partition": 0, "dr_offset": 46]))
            #expect(result.notes.contains { $0.contains("force a full sync") })

            // MirrorMaker 2 copies tails itself: the plan shows them, applying is refused.
            let plan = try await adapter.planReconcile(from: result)
            #expect(plan.batches.first?.statements.first?.contains("offsets 37..39") == true, "\(plan)")
            await #expect(throws: SyncError.self) { _ = try await adapter.applyReconcile(plan) }
            await #expect { try await adapter.pause() } throws: { error in
                "\(error)".contains("not supported") && "\(error)".contains("pause the MirrorMaker 2 connector through Kafka Connect")
            }
        }

        @Test("a partition count mismatch is broken, and the check reports the topic as an error")
        func partitionCountMismatchIsBroken() async throws {
            let topic = TestKafka.unique("pc")
            try await TestKafka.createTopic(.primary, topic, partitions: 3)
            try await TestKafka.createTopic(.dr, "primary.\(topic)", partitions: 2)
            let adapter = try adapter(topic)
            let sample = await adapter.sample()
            #expect(sample.state == .broken)
            #expect(sample.errors.contains { $0.contains("partition count mismatch") && $0.contains("has 3") && $0.contains("has 2") }, "\(sample.errors)")
            let result = try await adapter.check(Self.quick) { _ in }
            #expect(result.status == .fail)
            #expect(result.tables.first?.status == .error)
        }

        @Test("an unreachable cluster is a clear state, lag unknown, and a failing gate")
        func unreachableClusterFailsTheGate() async throws {
            let topic = TestKafka.unique("down")
            var closed = EndpointConfig(host: "127.0.0.1", port: 1, connectTimeoutSeconds: 1)
            closed.bootstrap = "127.0.0.1:1"
            let config = try TestKafka.source("kafka-down", mode: .mirrormaker2, topics: [topic], dr: closed)
            let sample = await KafkaSource(config: config).sample()
            #expect(sample.state == .unreachable, "\(sample)")
            #expect(sample.errors.first?.contains("DR 127.0.0.1:1 is unreachable") == true, "\(sample.errors)")
            #expect(sample.lagSeconds == nil)
            let verdict = Gate.evaluate(source: "kafka-down", policy: config.policy, sample: sample,
                                        check: CheckSummary(finishedAt: Date(), ratio: 1, countRatio: 1), now: Date())
            #expect(verdict.status == .fail)
            #expect(verdict.reasons.contains { $0.contains("unreachable") }, "\(verdict.reasons)")
        }
    }
}
