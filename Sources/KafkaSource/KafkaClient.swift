import CRdKafka
import Foundation
import SyncCore

/// A librdkafka failure, with the error's name and text.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var message: String

    init(_ code: rd_kafka_resp_err_t, _ context: String) {
        self.code = code.rawValue
        message = "\(context): \(String(cString: rd_kafka_err2str(code)))"
    }

    init(message: String) {
        code = RD_KAFKA_RESP_ERR_UNKNOWN.rawValue
        self.message = message
    }

    public var description: String { message }

    /// Transport-level failures: the cluster could not be reached or did not answer.
    public var isUnreachable: Bool {
        [RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
         RD_KAFKA_RESP_ERR__RESOLVE, RD_KAFKA_RESP_ERR__AUTHENTICATION].map(\.rawValue).contains(code)
    }
}

/// How to reach one cluster, as librdkafka configuration properties.
public struct KafkaClientSettings: Sendable {
    public var properties: [(String, String)]

    public init(endpoint: EndpointConfig, clientID: String) {
        properties = [
            ("bootstrap.servers", endpoint.bootstrap ?? "\(endpoint.host):\(endpoint.port)"),
            ("client.id", clientID),
            ("socket.timeout.ms", String(max(1, endpoint.connectTimeoutSeconds) * 1000 * 2)),
            ("socket.connection.setup.timeout.ms", String(max(1, endpoint.connectTimeoutSeconds) * 1000)),
        ]
        if let user = endpoint.user {
            properties += [("security.protocol", endpoint.kafka.tls ? "sasl_ssl" : "sasl_plaintext"),
                           ("sasl.mechanisms", endpoint.kafka.saslMechanism ?? "PLAIN"), ("sasl.username", user)]
            if let password = endpoint.password { properties.append(("sasl.password", password.value)) }
        } else if endpoint.kafka.tls {
            properties.append(("security.protocol", "ssl"))
        }
        if endpoint.kafka.tls { properties.append(("enable.ssl.certificate.verification", "true")) }
    }
}

/// Per-handle state that librdkafka's callbacks reach through the handle's opaque pointer.
final class HandleEvents: @unchecked Sendable {
    private let lock = NSLock()
    private var lastError: String?
    /// Per partition of the produced topics: the highest source offset (message opaque) acknowledged.
    private var acknowledged: [String: [Int32: Int64]] = [:]
    private var deliveryFailure: String?

    func recordError(_ text: String) {
        lock.withLock { lastError = text }
    }

    func takeLastError() -> String? {
        lock.withLock { defer { lastError = nil }; return lastError }
    }

    func recordDelivery(topic: String, partition: Int32, tag: Int64?, error: String?) {
        lock.withLock {
            if let error {
                if deliveryFailure == nil { deliveryFailure = "\(topic)[\(partition)]: \(error)" }
                return
            }
            if let tag { acknowledged[topic, default: [:]][partition] = max(acknowledged[topic]?[partition] ?? -1, tag) }
        }
    }

    /// The highest acknowledged tag per topic and partition.
    var acknowledgedTags: [String: [Int32: Int64]] { lock.withLock { acknowledged } }

    /// The first delivery that failed, if any (checked per batch, so it copies nothing else).
    var firstFailure: String? { lock.withLock { deliveryFailure } }
}

/// librdkafka prefetches per partition (defaults: 100k records, 64 MiB); with many partitions
/// assigned that is the whole topic in memory. These bounds keep syncd's memory flat.
enum KafkaMemory {
    static let prefetchRecords = "50000"
    static let prefetchKilobytes = "32768"
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
                events.recordDelivery(topic: topic, partition: message.pointee.partition, tag: tag > 0 ? Int64(tag - 1) : nil, error: error)
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
        let closing = ClosingHandle(rk: rk, consumer: role == .consumer, events: eventsRetained)
        KafkaHandle.closer.async {
            if closing.consumer { rd_kafka_consumer_close(closing.rk) }
            rd_kafka_destroy(closing.rk)
            closing.events.release()
        }
    }

    private static let closer = DispatchQueue(label: "syncd.kafka.close")

    /// A call of a cancellable operation (a check's reads, metadata): skipped once the task is cancelled.
    func perform<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
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

    /// The partition's log start offset and high watermark (next offset to be written).
    func watermarksBlocking(topic: String, partition: Int32, timeoutMs: Int32) throws -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let code = rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &high, timeoutMs)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw fail(code, "reading the watermarks of \(topic)[\(partition)]") }
        return (low, high)
    }
}

/// One consumed record, valid only during the callback that receives it.
public struct RecordView {
    let message: UnsafeMutablePointer<rd_kafka_message_t>

    public var offset: Int64 { message.pointee.offset }
    public var partition: Int32 { message.pointee.partition }

    public var timestamp: Int64 {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        return rd_kafka_message_timestamp(message, &type)
    }

    /// nil for a null key (which differs from an empty one).
    public var key: UnsafeRawBufferPointer? {
        guard let key = message.pointee.key else { return nil }
        return UnsafeRawBufferPointer(start: key, count: message.pointee.key_len)
    }

    public var value: UnsafeRawBufferPointer? {
        guard let payload = message.pointee.payload else { return nil }
        return UnsafeRawBufferPointer(start: payload, count: message.pointee.len)
    }

    /// Headers in their record order; a header value may be null.
    public func forEachHeader(_ body: (UnsafePointer<CChar>, UnsafeRawBufferPointer?) -> Void) {
        var headers: OpaquePointer?
        guard rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers else { return }
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(headers, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            if let name { body(name, value.map { UnsafeRawBufferPointer(start: $0, count: size) }) }
            index += 1
        }
    }

    /// A copy of the record's headers that the producer takes over (nil when there are none).
    func copiedHeaders() -> OpaquePointer? {
        var headers: OpaquePointer?
        guard rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers else { return nil }
        return rd_kafka_headers_copy(headers)
    }
}

/// What the consumer queue holds now, up to `capacity` — or, when it is empty, the first message to
/// arrive within the timeout. (rd_kafka_consume_batch_queue alone waits for the whole batch to fill.)
/// An empty queue calls `starved` first: the fetcher may be parked (see `KafkaHandle.wakeFetcher`).
func nextMessages(_ queue: OpaquePointer, _ messages: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>,
                  _ capacity: Int, timeoutMs: Int32, starved: () -> Void) -> Int {
    let ready = rd_kafka_consume_batch_queue(queue, 0, messages, capacity)
    guard ready == 0 else { return ready }
    starved()
    guard let first = rd_kafka_consume_queue(queue, timeoutMs) else { return 0 }
    messages[0] = first
    return 1
}

/// Hands each record of a consumed batch to `body` and frees every message, also after a failure.
/// Partition-EOF events are skipped; the first error (or error event) is thrown once the batch is freed.
func consumeBatch(_ messages: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>, _ count: Int, handle: KafkaHandle,
                  context: String, _ body: (UnsafeMutablePointer<rd_kafka_message_t>) throws -> Void) throws {
    var failure: Error?
    for index in 0..<count {
        guard let message = messages[index] else { continue }
        defer { rd_kafka_message_destroy(message) }
        guard failure == nil else { continue }
        let code = message.pointee.err
        if code != RD_KAFKA_RESP_ERR_NO_ERROR {
            if code != RD_KAFKA_RESP_ERR__PARTITION_EOF { failure = handle.fail(code, "\(context) at offset \(message.pointee.offset)") }
            continue
        }
        do { try body(message) } catch { failure = error }
    }
    if let failure { throw failure }
}

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

    var label: String { handle.label }

    /// Where the current assignment continues, so sequential chunk reads keep librdkafka's prefetch.
    private var continuation: (partition: TopicPartition, next: Int64)?

    /// Calls `body` for the records of [from, to) in offset order, at most `limit` of them, and
    /// returns the offset to continue from. Blocking, so call it through `handle.perform`. Offsets without
    /// a record (transaction markers, compacted away) are skipped by Kafka itself.
    @discardableResult
    func readBlocking(_ partition: TopicPartition, from: Int64, to: Int64, limit: Int = .max,
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

    /// Partition counts of every topic (blocking).
    func topicPartitionsBlocking(timeoutMs: Int32) throws -> [String: Int] {
        try handle.topicPartitionsBlocking(timeoutMs: timeoutMs)
    }

    func watermarksBlocking(_ partition: TopicPartition, timeoutMs: Int32) throws -> (low: Int64, high: Int64) {
        try handle.watermarksBlocking(topic: partition.topic, partition: partition.partition, timeoutMs: timeoutMs)
    }
}

/// An idempotent producer: per partition order and no duplicates within its session; delivery
/// reports tell which tagged records the cluster acknowledged.
public final class KafkaWriter: @unchecked Sendable {
    let handle: KafkaHandle

    public init(settings: KafkaClientSettings, label: String, batchSize: Int, compression: String) throws {
        handle = try KafkaHandle(role: .producer, settings: settings, extra: [
            ("enable.idempotence", "true"), ("acks", "all"), ("linger.ms", "5"),
            ("batch.num.messages", String(max(1, batchSize))), ("compression.codec", compression),
            ("message.timeout.ms", "30000"), ("queue.buffering.max.messages", "50000"),
            ("queue.buffering.max.kbytes", "32768"),
        ], label: label)
    }

    var label: String { handle.label }

    /// Queues one record; `tag` (e.g. the source offset) comes back in the delivery report.
    /// Waits for queue space rather than failing; blocking, so call it on a dedicated queue.
    func produceBlocking(topic: String, partition: Int32, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                         headers: OpaquePointer?, timestamp: Int64, tag: Int64?) throws {
        guard let handle = topicHandle(topic) else {
            if let headers { rd_kafka_headers_destroy(headers) }
            throw self.handle.fail(rd_kafka_last_error(), "opening topic \(topic)")
        }
        defer { rd_kafka_topic_destroy(handle) }
        try produceBlocking(to: handle, partition: partition, key: key, value: value, headers: headers, timestamp: timestamp, tag: tag)
    }

    /// A topic handle for `produceBlocking(to:)`; librdkafka keeps one per name, released with the writer.
    func topicHandle(_ name: String) -> OpaquePointer? {
        rd_kafka_topic_new(handle.rk, name, nil)
    }

    /// `produceBlocking` through a topic handle the caller keeps (the mirror's per-record path).
    func produceBlocking(to topic: OpaquePointer, partition: Int32, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                         headers: OpaquePointer?, timestamp: Int64, tag: Int64?) throws {
        let opaque = tag.flatMap { UnsafeMutableRawPointer(bitPattern: Int($0 + 1)) }
        while true {
            let code = syncd_kafka_produce_rkt(handle.rk, topic, partition, key?.baseAddress, key?.count ?? 0,
                                               value?.baseAddress, value?.count ?? 0, headers, timestamp, opaque)
            if code == RD_KAFKA_RESP_ERR_NO_ERROR { return }
            if code == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                rd_kafka_poll(handle.rk, 10)
                continue
            }
            if let headers { rd_kafka_headers_destroy(headers) }
            throw handle.fail(code, "producing to \(String(cString: rd_kafka_topic_name(topic)))[\(partition)]")
        }
    }

    /// Serves delivery reports without waiting.
    func pollBlocking() {
        rd_kafka_poll(handle.rk, 0)
    }

    /// Waits until every queued record was acknowledged (or failed), then reports failures.
    func flushBlocking(timeoutMs: Int32) throws {
        let code = rd_kafka_flush(handle.rk, timeoutMs)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw handle.fail(code, "waiting for the cluster to acknowledge \(rd_kafka_outq_len(handle.rk)) record(s)")
        }
        if let failure = handle.events.firstFailure {
            throw KafkaError(message: "\(label): a record was not delivered: \(failure)")
        }
        var text = [CChar](repeating: 0, count: 512)
        let fatal = rd_kafka_fatal_error(handle.rk, &text, 512)
        if fatal != RD_KAFKA_RESP_ERR_NO_ERROR {
            let reason = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw KafkaError(message: "\(label): the idempotent producer hit a fatal error: \(reason)")
        }
    }
}

/// A header list librdkafka owns once produced (headers in the given order; sorted for a dictionary).
func makeHeaders(_ headers: [String: [UInt8]]) -> OpaquePointer? {
    guard let list = rd_kafka_headers_new(headers.count) else { return nil }
    for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
        _ = value.withUnsafeBytes { rd_kafka_header_add(list, name, -1, $0.baseAddress, $0.count) }
    }
    return list
}

/// What a dropped handle's close needs, carried to the closing queue.
private struct ClosingHandle: @unchecked Sendable {
    // @unchecked: used once, on the closing queue, after the handle is gone.
    let rk: OpaquePointer
    let consumer: Bool
    let events: Unmanaged<HandleEvents>
}
