import CRdKafka
import Foundation
import SyncCore

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
