import Foundation
import Testing
import TestSupport
@testable import KafkaClient
@testable import KafkaSource
@testable import SyncCore

extension KafkaClusters {
    @Suite struct KafkaCancelTests {
        @Test("cancelling a read that waits for records ends it at once, not at the stall timeout")
        func cancellingAWaitingReadEndsIt() async throws {
            let topic = TestKafka.unique("cancel")
            try await TestKafka.createTopic(.primary, topic, partitions: 1)
            try await TestKafka.produce(.primary, topic, partition: 0, (0..<5).map { TestKafka.record("k\($0)", "v\($0)") })
            let reader = try KafkaRangeReader(settings: KafkaClientSettings(endpoint: try TestKafka.endpoint(.primary), clientID: "syncd-test"),
                                              label: "test primary", stallTimeout: .seconds(30))
            let started = StartFlag()
            // Offsets 5..<100 are never written: the read waits for them until the stall timeout or the cancel.
            let call = try await cancel(once: { started.started(before: .milliseconds(300)) }) {
                started.set()
                _ = try await reader.read(TopicPartition(topic, 0), from: 0, to: 100, into: 0) { count, _ in count += 1 }
            }
            #expect(call.threwCancellation, "\(String(describing: call.error))")
            #expect(call.afterCancel < .seconds(2), "the cancelled read ran on for \(call.afterCancel)")
            // The reader is still usable: a read of what exists completes.
            let (count, next) = try await reader.read(TopicPartition(topic, 0), from: 0, to: 5, into: 0) { count, _ in count += 1 }
            #expect(count == 5 && next == 5)
        }
    }
}
