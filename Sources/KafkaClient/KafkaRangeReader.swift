import CRdKafka
import Foundation
import SyncCore

/// Reads offset ranges of partitions with an assign-only consumer: no group membership, no commits.
public final class KafkaRangeReader: @unchecked Sendable {
    let handle: KafkaHandle
    /// How long a read may see no record before it gives up (the range was promised by the watermarks).
    let stallTimeoutMs: Int

    public init(settings: KafkaClientSettings, label: String, stallTimeout: Duration = .seconds(15)) throws {
        handle = try KafkaHandle(role: .consumer, settings: settings, extra: [
            ("group.id", "syncd-reader"), ("enable.auto.commit", "false"), ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "false"), ("auto.offset.reset", "error"),
            // A fetch the broker holds open delays the next assignment by this much: keep it short.
            ("fetch.wait.max.ms", "10"), ("queued.min.messages", KafkaMemory.prefetchRecords),
            ("queued.max.messages.kbytes", KafkaMemory.prefetchKilobytes),
        ], label: label)
        stallTimeoutMs = Int(stallTimeout.seconds * 1000)
    }

    public var label: String { handle.label }

    /// Where the current assignment continues, so sequential chunk reads keep librdkafka's prefetch.
    private var continuation: (partition: TopicPartition, next: Int64)?

    /// Calls `body` for the records of [from, to) in offset order, at most `limit` of them, and
    /// returns the offset to continue from. Blocking, so call it through `handle.perform`. Offsets without
    /// a record (transaction markers, compacted away) are skipped by Kafka itself.
    @discardableResult
    func readBlocking(_ partition: TopicPartition, from: Int64, to: Int64, limit: Int = .max, cancellation: CancellationToken? = nil,
                      _ body: (RecordView) throws -> Void) throws -> Int64 {
        guard from < to, limit > 0 else { return from }
        if continuation?.partition != partition || continuation?.next != from {
            continuation = nil
            let list = rd_kafka_topic_partition_list_new(1)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition).pointee.offset = from
            let code = rd_kafka_assign(handle.rk, list)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw handle.fail(code, "assigning \(partition)") }
        }
        guard let consumerQueue = rd_kafka_queue_get_consumer(handle.rk) else {
            throw KafkaError(message: "\(label): no consumer queue")
        }
        defer { rd_kafka_queue_destroy(consumerQueue) }
        let capacity = 1000
        let messages = UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>.allocate(capacity: capacity)
        defer { messages.deallocate() }
        var next = from
        var delivered = 0
        var idleMs = 0
        var overshot = false
        while next < to, delivered < limit {
            // Each wait below lasts at most 100 ms, so a cancelled read stops within that.
            if cancellation?.isCancelled == true {
                continuation = nil
                throw CancellationError()
            }
            let wanted = min(capacity, limit - delivered, Int(clamping: to - next))
            let count = nextMessages(consumerQueue, messages, wanted, timeoutMs: 100) { self.handle.wakeFetcher(partition) }
            if count < 0 { throw handle.fail(rd_kafka_last_error(), "reading \(partition)") }
            if count == 0 {
                idleMs += 100
                if idleMs >= stallTimeoutMs {
                    throw KafkaError(message: "\(label): reading \(partition) stalled at offset \(next) (expected records up to \(to - 1))"
                                        + (handle.lastBackgroundError().map { ": \($0)" } ?? ""))
                }
                continue
            }
            idleMs = 0
            do {
                try consumeBatch(messages, count, handle: handle, context: "reading \(partition)") { message in
                    let offset = message.pointee.offset
                    guard offset >= next else { return }
                    guard offset < to else {
                        overshot = true
                        return
                    }
                    try body(RecordView(message: message))
                    next = offset + 1
                    delivered += 1
                }
            } catch {
                continuation = nil
                throw error
            }
        }
        // A record past `to` was consumed and dropped: the next read must fetch again.
        continuation = overshot ? nil : (partition, next)
        return next
    }

    // MARK: the async API (each call runs on the handle's queue; the cancellable ones are skipped
    // once the calling task is cancelled)

    /// Folds the records of [from, to), at most `limit` of them, into `initial`; returns the result
    /// and the offset to continue from. Offsets without a record (transaction markers, compacted
    /// away) are skipped by Kafka itself.
    public func read<Result: Sendable>(_ partition: TopicPartition, from: Int64, to: Int64, limit: Int = .max, into initial: Result,
                                       _ each: @escaping @Sendable (inout Result, RecordView) throws -> Void) async throws -> (Result, next: Int64) {
        try await handle.perform { (token: CancellationToken) in
            var result = initial
            let next = try self.readBlocking(partition, from: from, to: to, limit: limit, cancellation: token) { try each(&result, $0) }
            return (result, next)
        }
    }

    /// Copies the records of [from, to) to the same partition of `topic` through `writer` (key,
    /// value, headers and timestamp kept) and waits until the target acknowledged them all; runs to
    /// its end once started. Returns how many records were copied.
    public func copy(_ partition: TopicPartition, from: Int64, to: Int64, into topic: String, through writer: KafkaWriter,
                     flushTimeout: Duration = .seconds(60)) async throws -> Int {
        try await handle.performToCompletion {
            var count = 0
            try self.readBlocking(partition, from: from, to: to) { record in
                try writer.produceBlocking(topic: topic, partition: record.partition, key: record.key, value: record.value,
                                           headers: record.copiedHeaders(), timestamp: record.timestamp, tag: record.offset)
                count += 1
            }
            try writer.flushBlocking(timeoutMs: Int32(flushTimeout.seconds * 1000))
            return count
        }
    }

    /// Partition counts of every topic the cluster reports (internal `__` topics included).
    public func topicPartitions(timeout: Duration) async throws -> [String: Int] {
        try await handle.perform { try self.handle.topicPartitionsBlocking(timeoutMs: Int32(timeout.seconds * 1000)) }
    }

    /// Every partition's log start offset and end at once, in the order given.
    public func watermarks(_ partitions: [TopicPartition], timeout: Duration) async throws -> [(low: Int64, high: Int64)] {
        try await handle.perform { try self.handle.watermarksBlocking(partitions, timeoutMs: Int32(timeout.seconds * 1000)) }
    }

    /// The partition's log start offset and high watermark (next offset to be written).
    public func watermarks(_ partition: TopicPartition, timeout: Duration) async throws -> (low: Int64, high: Int64) {
        try await handle.perform {
            try self.handle.watermarksBlocking(topic: partition.topic, partition: partition.partition, timeoutMs: Int32(timeout.seconds * 1000))
        }
    }
}
