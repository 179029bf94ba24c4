import CRdKafka
import Foundation
import SyncCore

/// A consumer group's committed offsets on one cluster (OffsetFetch, and OffsetCommit for tests
/// and offset syncing), through a consumer that never joins the group: it neither rebalances nor
/// disturbs the group's live members.
public enum GroupOffsets {
    /// A consumer of `group` that never subscribes: it fetches and commits offsets, never joins.
    static func outsider(settings: KafkaClientSettings, label: String, group: String) throws -> KafkaHandle {
        try KafkaHandle(role: .consumer, settings: settings, extra: [("group.id", group), ("enable.auto.commit", "false")], label: label)
    }

    /// The committed offset of each partition; partitions without one are absent.
    public static func committed(settings: KafkaClientSettings, label: String, group: String, partitions: [TopicPartition],
                                 timeout: Duration = .seconds(10)) async throws -> [TopicPartition: Int64] {
        let handle = try outsider(settings: settings, label: label, group: group)
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        return try await handle.perform { () throws -> [TopicPartition: Int64] in
            let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))
            defer { rd_kafka_topic_partition_list_destroy(list) }
            for partition in partitions { rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition) }
            let code = rd_kafka_committed(handle.rk, list, milliseconds)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { throw handle.fail(code, "reading the committed offsets of group \(group)") }
            var found: [TopicPartition: Int64] = [:]
            for index in 0..<Int(list.pointee.cnt) {
                let element = list.pointee.elems[index]
                guard element.err == RD_KAFKA_RESP_ERR_NO_ERROR, element.offset >= 0 else { continue }
                found[TopicPartition(String(cString: element.topic), element.partition)] = element.offset
            }
            return found
        }
    }

    /// Commits `offsets` for `group` (the next offset each partition's consumers read).
    public static func commit(settings: KafkaClientSettings, label: String, group: String, offsets: [TopicPartition: Int64]) async throws {
        let handle = try outsider(settings: settings, label: label, group: group)
        try await handle.performToCompletion {
            let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))
            defer { rd_kafka_topic_partition_list_destroy(list) }
            for (partition, offset) in offsets { rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition).pointee.offset = offset }
            let code = rd_kafka_commit(handle.rk, list, 0)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw handle.fail(code, "committing offsets of group \(group)") }
        }
    }

    /// Every consumer group the cluster lists (ListGroups); nil when it cannot list them (some
    /// clusters, librdkafka's mock cluster among them, do not answer ListGroups).
    public static func list(settings: KafkaClientSettings, label: String, timeout: Duration = .seconds(2)) async throws -> [String]? {
        let handle = try KafkaHandle(role: .consumer, settings: settings, label: label)
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        return try await handle.perform { () -> [String]? in
            var list: UnsafePointer<rd_kafka_group_list>?
            let code = rd_kafka_list_groups(handle.rk, nil, &list, milliseconds)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return nil }
            defer { rd_kafka_group_list_destroy(list) }
            return (0..<Int(list.pointee.group_cnt)).map { String(cString: list.pointee.groups[$0].group) }
        }
    }
}
