import Foundation
import Testing
@testable import KafkaClient
@testable import KafkaSource
@testable import SyncCore
import TestSupport

extension KafkaClusters {
    @Suite struct WatermarkTests {
        @Test("every partition's offsets in one batched request equal the per-partition answers, in the order asked; a missing partition is an error that names it")
        func batchedWatermarksMatch() async throws {
            let topic = TestKafka.unique("marks")
            try await TestKafka.createTopic(.primary, topic, partitions: 64)
            for partition in Int32(0)..<8 {
                let records = (0..<Int(partition) * 3).map { TestKafka.record("k\($0)", "v\($0)") }
                if !records.isEmpty { try await TestKafka.produce(.primary, topic, partition: partition, records) }
            }
            let cluster = try KafkaCluster(side: .primary, endpoint: try TestKafka.endpoint(.primary), purpose: "test")
            let partitions = (0..<Int32(64)).reversed().map { TopicPartition(topic, $0) }
            let batched = try await cluster.watermarks(partitions)
            #expect(batched.count == 64)
            for (partition, marks) in zip(partitions, batched) {
                let single = try await cluster.watermarks(partition)
                #expect(marks.low == single.low && marks.high == single.high, "\(partition): \(marks) vs \(single)")
            }
            #expect(batched.last?.high == 0 && batched[64 - 1 - 7].high == 21, "partition 7 holds 21 records: \(batched.suffix(8))")
            await #expect(throws: SyncError.self) { _ = try await cluster.watermarks([TopicPartition(topic, 999)]) }
        }
    }
}
