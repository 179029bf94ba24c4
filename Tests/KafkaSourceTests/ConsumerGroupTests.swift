import Foundation
import Testing
@testable import KafkaClient
@testable import KafkaSource
@testable import SyncCore
import TestSupport

extension KafkaClusters {
    @Suite struct ConsumerGroupTests {
        func commit(_ side: Side, _ group: String, _ offsets: [TopicPartition: Int64]) async throws {
            try await GroupOffsets.commit(settings: KafkaClientSettings(endpoint: try TestKafka.endpoint(side), clientID: "syncd-test"),
                                          label: "test \(side)", group: group, offsets: offsets)
        }

        @Test("consumer groups: a DR offset ahead of the translated one (skipping) or missing fails the gate, one behind (re-reading) is a warning, a translated one passes")
        func consumerGroupOffsetsAreCompared() async throws {
            let topic = TestKafka.unique("groups")
            try await TestKafka.createTopic(.primary, topic, partitions: 2)
            try await TestKafka.createTopic(.dr, topic, partitions: 2)
            for partition in Int32(0)..<2 {
                try await TestKafka.produce(.primary, topic, partition: partition, (0..<20).map { TestKafka.record("k\($0)", "v\($0)") })
            }
            var config = try TestKafka.source(TestKafka.unique("groups-src"), mode: .mirror, topics: [topic])
            config.kafka?.consumerGroups = ["billing"]
            let adapter = KafkaSource(config: config)
            let background = Task { await adapter.runBackground() }
            defer { background.cancel() }
            _ = try await adapter.waitForDrain(timeout: .seconds(30))

            let (p0, p1) = (TopicPartition(topic, 0), TopicPartition(topic, 1))
            try await commit(.primary, "billing", [p0: 12, p1: 5])
            try await commit(.dr, "billing", [p0: 12, p1: 5])
            let translated = try await adapter.check(CheckOptions(rounds: 1)) { _ in }
            #expect(translated.status == .pass, "\(translated.diffs) \(translated.blockers ?? [])")

            try await commit(.dr, "billing", [p0: 15, p1: 3])
            let drifted = try await adapter.check(CheckOptions(rounds: 1)) { _ in }
            #expect(drifted.status == .fail && drifted.ratio == 1, "records are equal; the groups fail it")
            #expect(drifted.blockers?.contains { $0.contains("group billing would skip 3 record(s) of \(topic)[0]") } == true, "\(drifted.blockers ?? [])")
            #expect(drifted.diffs.contains { $0.kind == .consumerGroup && $0.detail?.contains("would re-read 2 record(s) (warning)") == true }, "\(drifted.diffs)")
            #expect(!(drifted.blockers ?? []).contains { $0.contains("re-read") }, "re-reading is a warning only")

            let lonely = TestKafka.unique("lonely")
            config.kafka?.consumerGroups = [lonely]
            try await commit(.primary, lonely, [p0: 4])
            let missing = try await KafkaSource(config: config).check(CheckOptions(rounds: 1)) { _ in }
            #expect(missing.blockers?.contains { $0.contains("group \(lonely) has no committed offset for \(topic)[0] on the DR cluster") } == true,
                    "\(missing.blockers ?? [])")
        }
    
        @Test("sync_group_offsets: the built-in mirror commits each group's translated offsets on the DR cluster, and the check then passes; paused, it commits none")
        func mirrorSyncsGroupOffsets() async throws {
            let topic = TestKafka.unique("groupsync")
            try await TestKafka.createTopic(.primary, topic, partitions: 1)
            try await TestKafka.createTopic(.dr, topic, partitions: 1)
            try await TestKafka.produce(.primary, topic, partition: 0, (0..<30).map { TestKafka.record("k\($0)", "v\($0)") })
            let group = TestKafka.unique("reports")
            try await commit(.primary, group, [TopicPartition(topic, 0): 21])
            var config = try TestKafka.source(TestKafka.unique("groupsync-src"), mode: .mirror, topics: [topic])
            config.kafka?.consumerGroups = [group]
            config.kafka?.syncGroupOffsets = true
            let adapter = KafkaSource(config: config)
            let background = Task { await adapter.runBackground() }
            defer { background.cancel() }
            _ = try await adapter.waitForDrain(timeout: .seconds(30))
            let settings = KafkaClientSettings(endpoint: try TestKafka.endpoint(.dr), clientID: "syncd-test")
            #expect(try await eventually(timeout: .seconds(20)) {
                try await GroupOffsets.committed(settings: settings, label: "dr", group: group, partitions: [TopicPartition(topic, 0)])[TopicPartition(topic, 0)] == 21
            })
            let check = try await adapter.check(CheckOptions(rounds: 1)) { _ in }
            #expect(check.status == .pass, "\(check.diffs) \(check.blockers ?? [])")

            // Paused (as after a cutover), the DR side's consumers own their offsets: none is committed.
            try await adapter.pause()
            try await commit(.primary, group, [TopicPartition(topic, 0): 25])
            try await Task.sleep(for: .seconds(6))  // longer than a sync interval (5 s)
            let whilePaused = try await GroupOffsets.committed(settings: settings, label: "dr", group: group, partitions: [TopicPartition(topic, 0)])
            #expect(whilePaused[TopicPartition(topic, 0)] == 21, "no offset synced while paused: \(whilePaused)")
            try await adapter.resume()
            #expect(try await eventually(timeout: .seconds(20)) {
                try await GroupOffsets.committed(settings: settings, label: "dr", group: group, partitions: [TopicPartition(topic, 0)])[TopicPartition(topic, 0)] == 25
            }, "synced again once resumed")
        }
    }
}
