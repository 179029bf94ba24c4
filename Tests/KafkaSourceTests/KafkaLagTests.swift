import Foundation
import Testing
@testable import KafkaSource
@testable import SyncCore
import TestSupport

extension KafkaClusters {
    /// Lag in seconds from the source high-watermark history, a DR copy ahead of its source, and
    /// keys that differ only in Unicode normalisation; against a MirrorMaker 2 layout the test writes.
    @Suite struct KafkaLagTests {
        /// Source and DR topics of `partitions` partitions, offsets preserved (a sync 0 -> 0 each).
        func layout(partitions: Int32) async throws -> (topic: String, adapter: KafkaSource) {
            let topic = TestKafka.unique("lag")
            try await TestKafka.createTopic(.primary, topic, partitions: Int(partitions))
            try await TestKafka.createTopic(.dr, "primary.\(topic)", partitions: Int(partitions))
            try await TestKafka.produce(.primary, "mm2-offset-syncs.dr.internal", partition: 0,
                                        (0..<partitions).map { KafkaCheckTests.sync(topic, $0, upstream: 0, downstream: 0) })
            let config = try TestKafka.source(TestKafka.unique("lag-src"), mode: .mirrormaker2, topics: [topic], policy: .mirrormaker2)
            return (topic, KafkaSource(config: config))
        }

        @Test("7 records behind whose newest records share one timestamp: lag is at least one poll interval and grows; 0 once caught up")
        func equalTimestampsStillShowLag() async throws {
            let (topic, adapter) = try await layout(partitions: 1)
            let stamp = Int64(Date().timeIntervalSince1970 * 1000) - 5_000
            let records = (0..<40).map { TestKafka.record("k\($0)", "v\($0)", timestamp: stamp) }
            try await TestKafka.produce(.primary, topic, partition: 0, records)
            try await TestKafka.produce(.dr, "primary.\(topic)", partition: 0, Array(records.prefix(33)))
            let first = await adapter.sample()
            #expect(first.lagVolume == 7)
            let interval = TestKafka.pollInterval
            #expect((first.lagSeconds ?? 0) >= interval, "records behind never show a lag under one poll interval: \(first)")
            // The lag counts from when syncd first saw the source pass the DR end, so it grows with time.
            var later = await adapter.sample()
            #expect(try await eventually(timeout: .seconds(10), every: .milliseconds(200)) {
                later = await adapter.sample()
                return (later.lagSeconds ?? 0) >= 1.2
            }, "\(later)")
            #expect(later.lagVolume == 7)
            #expect(later.details["partition \(topic)[0]"]?.contains("lag ") == true, "\(later.details)")

            try await TestKafka.produce(.dr, "primary.\(topic)", partition: 0, Array(records.suffix(7)))
            let caughtUp = await adapter.sample()
            #expect(caughtUp.lagVolume == 0)
            #expect(caughtUp.lagSeconds == 0)
            #expect(caughtUp.state == .inSync)
        }

        @Test("a DR partition ahead of its source shows in status and fails the gate with its own reason")
        func drAheadOfSourceFailsTheGate() async throws {
            let (topic, adapter) = try await layout(partitions: 2)
            for partition in Int32(0)..<2 {
                let records = (0..<10).map { TestKafka.record("k\($0)", "p\(partition)-\($0)") }
                try await TestKafka.produce(.primary, topic, partition: partition, records)
                let extra = partition == 1 ? [TestKafka.record("x", "extra-1"), TestKafka.record("x", "extra-2")] : []
                try await TestKafka.produce(.dr, "primary.\(topic)", partition: partition, records + extra)
            }
            let sample = await adapter.sample()
            #expect(sample.state == .broken, "\(sample)")
            #expect(sample.details["partitions_ahead"] == "1")
            let error = try #require(sample.errors.first { $0.contains("ahead") })
            #expect(error.contains("primary.\(topic)[1] on the DR side is 2 record(s) ahead of \(topic)[1]"), "\(error)")
            let now = Date()
            let clean = CheckSummary(finishedAt: now, ratio: 1, countRatio: 1,
                                     scopes: [ScopeSummary(scope: topic, finishedAt: now, ratio: 1, countRatio: 1)], partial: false, complete: true)
            let verdict = Gate.evaluate(source: adapter.name, policy: try TestKafka.source("x", mode: .mirrormaker2, topics: [topic]).policy,
                                        sample: sample, check: clean, now: now)
            #expect(verdict.status == .fail)
            #expect(verdict.reasons.contains { $0.contains("2 record(s) ahead") }, "\(verdict.reasons)")
        }

        @Test("keys that differ only in Unicode normalisation are different records")
        func nfcAndNfdKeysDiffer() async throws {
            let (topic, adapter) = try await layout(partitions: 1)
            let stamp = Int64(Date().timeIntervalSince1970 * 1000)
            let nfc = "caf\u{E9}", nfd = "cafe\u{301}"
            try await TestKafka.produce(.primary, topic, partition: 0, [TestKafka.record(nfc, "v", timestamp: stamp), TestKafka.record("b", "v", timestamp: stamp)])
            try await TestKafka.produce(.dr, "primary.\(topic)", partition: 0, [TestKafka.record(nfd, "v", timestamp: stamp), TestKafka.record("b", "v", timestamp: stamp)])
            var options = KafkaCheckTests.quick
            options.fullDiff = true
            let result = try await adapter.check(options) { _ in }
            #expect(result.status == .fail, "\(result)")
            #expect(result.changed == 1 && result.missing == 0 && result.extra == 0, "\(result)")
        }

        @Test("a re-check round whose DR side cannot progress (a mirror that never delivers the tail) ends after 3 polls, and the note says so")
        func roundThatCannotCatchUpEndsEarly() async throws {
            let (topic, adapter) = try await layout(partitions: 1)
            let records = (0..<20).map { TestKafka.record("k\($0)", "v\($0)") }
            try await TestKafka.produce(.primary, topic, partition: 0, records)
            try await TestKafka.produce(.dr, "primary.\(topic)", partition: 0, Array(records.prefix(17)))
            let started = ContinuousClock.now
            // The default rounds and catch-up wait: 3 rounds of up to 60 s each.
            let result = try await adapter.check(CheckOptions(maxDiffs: 100)) { _ in }
            let took = started.duration(to: .now)
            #expect(result.status == .fail)
            #expect(result.missing == 3, "\(result)")
            #expect(result.rounds == 1, "no round re-read what could not arrive")
            #expect(took < .seconds(10), "stopped waiting after 3 polls of \(TestKafka.pollInterval) s, not after 60 s: took \(took)")
            #expect(result.notes.contains { $0.contains("did not change over 3 polls") && $0.contains("skipped") }, "\(result.notes)")
        }
    }
}
