import CRdKafka
import Foundation
import SyncCore

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

    public var label: String { handle.label }

    /// Produces `records` in order and waits until the cluster acknowledged every one; runs to its
    /// end once started.
    public func produceAndFlush(_ records: [ProducedRecord], timeout: Duration = .seconds(30)) async throws {
        try await handle.performToCompletion {
            for record in records {
                let headers = record.headers.isEmpty ? nil : makeHeaders(record.headers)
                try withOptionalBytes(record.key) { key in
                    try withOptionalBytes(record.value) { value in
                        try self.produceBlocking(topic: record.topic, partition: record.partition, key: key, value: value,
                                                 headers: headers, timestamp: record.timestamp, tag: nil)
                    }
                }
            }
            try self.flushBlocking(timeoutMs: Int32(timeout.seconds * 1000))
        }
    }

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
    /// `giveUp` is asked while the queue is full: true ends the wait with an error (shutdown).
    func produceBlocking(to topic: OpaquePointer, partition: Int32, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                         headers: OpaquePointer?, timestamp: Int64, tag: Int64?, giveUp: () -> Bool = { false }) throws {
        let opaque = tag.flatMap { UnsafeMutableRawPointer(bitPattern: Int($0 + 1)) }
        while true {
            let code = syncd_kafka_produce_rkt(handle.rk, topic, partition, key?.baseAddress, key?.count ?? 0,
                                               value?.baseAddress, value?.count ?? 0, headers, timestamp, opaque)
            if code == RD_KAFKA_RESP_ERR_NO_ERROR { return }
            if code == RD_KAFKA_RESP_ERR__QUEUE_FULL, !giveUp() {
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

private func withOptionalBytes<T>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) throws -> T) rethrows -> T {
    guard let bytes else { return try body(nil) }
    return try bytes.withUnsafeBytes { try body($0) }
}

/// A header list librdkafka owns once produced (headers in the given order; sorted for a dictionary).
func makeHeaders(_ headers: [String: [UInt8]]) -> OpaquePointer? {
    guard let list = rd_kafka_headers_new(headers.count) else { return nil }
    for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
        _ = value.withUnsafeBytes { rd_kafka_header_add(list, name, -1, $0.baseAddress, $0.count) }
    }
    return list
}
