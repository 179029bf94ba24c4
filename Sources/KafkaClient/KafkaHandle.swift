import CRdKafka
import Foundation
import SyncCore

/// Per-handle state that librdkafka's callbacks reach through the handle's opaque pointer.
final class HandleEvents: @unchecked Sendable {
    private let lock = NSLock()
    private var lastError: String?
    /// Per partition of the produced topics (by the name's bytes): the highest source offset
    /// (message opaque) acknowledged.
    private var acknowledged: [ByteKey: [Int32: Int64]] = [:]
    /// Per partition, what was acknowledged since the last `takeSpans()` (a transaction's records).
    private var spans: [ByteKey: [Int32: DeliveredSpan]] = [:]
    private var deliveryFailure: String?

    func recordError(_ text: String) {
        lock.withLock { lastError = text }
    }

    func takeLastError() -> String? {
        lock.withLock { defer { lastError = nil }; return lastError }
    }

    func recordDelivery(topic: String, partition: Int32, tag: Int64?, offset: Int64, error: String?) {
        lock.withLock {
            if let error {
                if deliveryFailure == nil { deliveryFailure = "\(topic)[\(partition)]: \(error)" }
                return
            }
            if let tag {
                let name = topic.byteKey
                acknowledged[name, default: [:]][partition] = max(acknowledged[name]?[partition] ?? -1, tag)
                spans[name, default: [:]][partition, default: DeliveredSpan(topic: topic, partition: partition, firstTag: tag, firstOffset: offset,
                                                                             lastTag: tag, lastOffset: offset)]
                    .include(tag: tag, offset: offset)
            }
        }
    }

    /// The tagged records acknowledged since the last call, per partition; starts a new span.
    func takeSpans() -> [DeliveredSpan] {
        lock.withLock {
            defer { spans = [:] }
            return spans.values.flatMap(\.values)
        }
    }

    /// The highest acknowledged tag per topic and partition.
    var acknowledgedTags: [ByteKey: [Int32: Int64]] { lock.withLock { acknowledged } }

    /// The first delivery that failed, if any (checked per batch, so it copies nothing else).
    var firstFailure: String? { lock.withLock { deliveryFailure } }
}

/// The tagged records of one produced partition acknowledged in a span of time: the first and last
/// tag (the mirrored source offset) and the offsets they were written at.
public struct DeliveredSpan: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var firstTag: Int64
    public var firstOffset: Int64
    public var lastTag: Int64
    public var lastOffset: Int64

    public init(topic: String, partition: Int32, firstTag: Int64, firstOffset: Int64, lastTag: Int64, lastOffset: Int64) {
        self.topic = topic
        self.partition = partition
        self.firstTag = firstTag
        self.firstOffset = firstOffset
        self.lastTag = lastTag
        self.lastOffset = lastOffset
    }

    mutating func include(tag: Int64, offset: Int64) {
        if tag < firstTag { (firstTag, firstOffset) = (tag, offset) }
        if tag > lastTag { (lastTag, lastOffset) = (tag, offset) }
    }
}

/// librdkafka prefetches per partition (defaults: 100k records, 64 MiB); with many partitions
/// assigned that is the whole topic in memory. These bounds keep syncd's memory flat.
public enum KafkaMemory {
    public static let prefetchRecords = "50000"
    public static let prefetchKilobytes = "32768"
}

/// Owns one rd_kafka_t (producer or consumer) and destroys it. librdkafka handles are thread-safe,
/// but every blocking call goes through this handle's own serial queue, off the cooperative pool.
public final class KafkaHandle: @unchecked Sendable {
    public enum Role: Sendable { case consumer, producer }

    let rk: OpaquePointer
    let role: Role
    let events: HandleEvents
    private let eventsRetained: Unmanaged<HandleEvents>
    private let queue: BlockingQueue
    let label: String

    /// `label` names the side in messages ("primary 127.0.0.1:9092").
    public init(role: Role, settings: KafkaClientSettings, extra: [(String, String)] = [], label: String) throws {
        let conf = rd_kafka_conf_new()
        let errorText = UnsafeMutablePointer<CChar>.allocate(capacity: 512)
        defer { errorText.deallocate() }
        for (key, value) in settings.properties + extra {
            guard rd_kafka_conf_set(conf, key, value, errorText, 512) == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(message: "\(label): Kafka client setting \(key): \(String(cString: errorText))")
            }
        }
        let events = HandleEvents()
        let retained = Unmanaged.passRetained(events)
        rd_kafka_conf_set_opaque(conf, retained.toOpaque())
        // Connection failures are reported through the operations that hit them, not printed to stderr.
        rd_kafka_conf_set_log_cb(conf) { _, _, _, _ in }
        rd_kafka_conf_set_error_cb(conf) { _, code, reason, opaque in
            guard let opaque else { return }
            let text = reason.map { String(cString: $0) } ?? String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(rawValue: code)))
            Unmanaged<HandleEvents>.fromOpaque(opaque).takeUnretainedValue().recordError(text)
        }
        if role == .producer {
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let opaque, let message else { return }
                let events = Unmanaged<HandleEvents>.fromOpaque(opaque).takeUnretainedValue()
                let topic = String(cString: rd_kafka_topic_name(message.pointee.rkt))
                let error = message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : String(cString: rd_kafka_err2str(message.pointee.err))
                // The message opaque carries the mirrored source offset + 1 (0 = untagged).
                let tag = Int(bitPattern: message.pointee._private)
                events.recordDelivery(topic: topic, partition: message.pointee.partition, tag: tag > 0 ? Int64(tag - 1) : nil,
                                      offset: message.pointee.offset, error: error)
            }
        }
        guard let rk = rd_kafka_new(role == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf, errorText, 512) else {
            retained.release()
            throw KafkaError(message: "\(label): cannot create a Kafka client: \(String(cString: errorText))")
        }
        self.rk = rk
        self.role = role
        self.events = events
        eventsRetained = retained
        self.label = label
        queue = BlockingQueue(label: "syncd.kafka.\(label)")
    }

    /// Both can block (a consumer's close leaves its group, destroy joins librdkafka's threads):
    /// they run on a queue of their own, never on the thread that dropped the last reference.
    deinit {
        // Used once, on the closing queue, after the handle is gone.
        let closing = UnsafeTransfer((rk: rk, consumer: role == .consumer, events: eventsRetained))
        KafkaHandle.closer.async {
            if closing.value.consumer { rd_kafka_consumer_close(closing.value.rk) }
            rd_kafka_destroy(closing.value.rk)
            closing.value.events.release()
        }
    }

    private static let closer = DispatchQueue(label: "syncd.kafka.close")

    /// A call of a cancellable operation (a check's reads, metadata): skipped once the task is cancelled.
    func perform<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await queue.runCancellable(body)
    }

    /// The same for a long call that watches `token` itself and stops when it is set.
    func perform<T: Sendable>(_ body: @escaping @Sendable (CancellationToken) throws -> T) async throws -> T {
        try await queue.runCancellable(body)
    }

    /// A call that must run to its end (writes of a reconcile, a mirror's flush).
    func performToCompletion<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await queue.run(body)
    }

    /// The error librdkafka last reported in the background (e.g. "all brokers down"), if any.
    func lastBackgroundError() -> String? { events.takeLastError() }

    func fail(_ code: rd_kafka_resp_err_t, _ what: String) -> KafkaError {
        var error = KafkaError(code, "\(label): \(what)")
        if let background = lastBackgroundError(), code == RD_KAFKA_RESP_ERR__TIMED_OUT || code == RD_KAFKA_RESP_ERR__TRANSPORT {
            error.message += " (\(background))"
        }
        return error
    }

    private let wakeLock = NSLock()
    private var wakeInFlight = false
    private static let wakeQueue = DispatchQueue(label: "syncd.kafka.wake", attributes: .concurrent)

    /// librdkafka 2.0 stops fetching a partition while its consumer queue holds more than
    /// `queued.min.messages` and looks again only when the broker thread next wakes — up to a
    /// second later, which caps reads at about that many records per second. Any request to the
    /// partition's leader wakes that thread; a watermark query (ListOffsets) is the cheapest. It is
    /// sent from another thread (the reader keeps reading), one at a time. (librdkafka 2.4 adds
    /// fetch.queue.backoff.ms for this.)
    func wakeFetcher(_ partition: TopicPartition) {
        let start = wakeLock.withLock { () -> Bool in
            if wakeInFlight { return false }
            wakeInFlight = true
            return true
        }
        guard start else { return }
        Self.wakeQueue.async { [self] in
            var low: Int64 = 0
            var high: Int64 = 0
            _ = rd_kafka_query_watermark_offsets(rk, partition.topic, partition.partition, &low, &high, 1000)
            wakeLock.withLock { wakeInFlight = false }
        }
    }

    // MARK: blocking calls (run them through `queue`)

    /// Partition counts of every topic the cluster reports (internal `__` topics included).
    func topicPartitionsBlocking(timeoutMs: Int32) throws -> [String: Int] {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let code = rd_kafka_metadata(rk, 1, nil, &metadata, timeoutMs)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw fail(code, "reading cluster metadata") }
        defer { rd_kafka_metadata_destroy(metadata) }
        var result: [String: Int] = [:]
        for index in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[index]
            guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            result[String(cString: topic.topic)] = Int(topic.partition_cnt)
        }
        return result
    }

    /// Every partition's log start offset and end, in the order given: one batched ListOffsets per
    /// broker for each end (earliest, latest) instead of two round trips per partition. The end is
    /// the last stable offset under `isolation.level=read_committed` (what a reader can read).
    func watermarksBlocking(_ partitions: [TopicPartition], timeoutMs: Int32) throws -> [(low: Int64, high: Int64)] {
        guard !partitions.isEmpty else { return [] }
        func query(_ position: Int64, _ what: String) throws -> [Int64] {
            let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))
            defer { rd_kafka_topic_partition_list_destroy(list) }
            for partition in partitions {
                rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition).pointee.offset = position
            }
            let code = rd_kafka_offsets_for_times(rk, list, timeoutMs)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { throw fail(code, "reading the \(what) offsets of \(partitions.count) partition(s)") }
            return try (0..<Int(list.pointee.cnt)).map { index in
                let element = list.pointee.elems[index]
                guard element.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw fail(element.err, "reading the \(what) offset of \(String(cString: element.topic))[\(element.partition)]")
                }
                return element.offset
            }
        }
        let lows = try query(Int64(RD_KAFKA_OFFSET_BEGINNING), "earliest")
        let highs = try query(Int64(RD_KAFKA_OFFSET_END), "latest")
        guard lows.count == partitions.count, highs.count == partitions.count else {
            throw KafkaError(message: "\(label): the cluster answered \(lows.count)/\(highs.count) offsets for \(partitions.count) partitions")
        }
        return zip(lows, highs).map { (low: $0, high: $1) }
    }

    /// The partition's log start offset and high watermark (next offset to be written).
    func watermarksBlocking(topic: String, partition: Int32, timeoutMs: Int32) throws -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let code = rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &high, timeoutMs)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw fail(code, "reading the watermarks of \(topic)[\(partition)]") }
        return (low, high)
    }
}
