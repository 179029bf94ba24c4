import Foundation
import Testing
import TestSupport
@testable import KafkaSource
@testable import SyncCore

extension KafkaClusters {
    @Suite struct KafkaHungServerTests {
        @Test("a frozen DR cluster fails the gate within one poll interval plus poll_timeout, and the source recovers after the thaw")
        func frozenDRClusterFailsTheGateAtOnce() async throws {
            let topic = TestKafka.unique("hung")
            try await TestKafka.createTopic(.primary, topic, partitions: 2)
            try await TestKafka.createTopic(.dr, topic, partitions: 2)
            try await TestKafka.produce(.primary, topic, partition: 0, (0..<20).map { TestKafka.record("k\($0)", "v\($0)") })
            let config = withPollTiming(try TestKafka.source(TestKafka.unique("hung-src"), mode: .mirror, topics: [topic]),
                                        interval: 0.5, timeout: 2)
            let adapter = KafkaSource(config: config)
            let background = Task { await adapter.runBackground() }
            defer { background.cancel() }
            let observed = try await observeHungServer(
                config: config, adapter: adapter,
                freeze: { try await TestKafka.script("freeze", "dr") },
                thaw: { try await TestKafka.script("thaw", "dr") })
            #expect(observed.brokenPromises.isEmpty, "\(observed.brokenPromises)")
        }
    }
}
