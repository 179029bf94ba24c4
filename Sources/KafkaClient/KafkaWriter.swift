import CRdKafka
import Foundation
import SyncCore

/// An idempotent producer: per partition order and no duplicates within its session; delivery
/// reports tell which tagged records the cluster acknowledged. With a `transactionalID` it writes in
/// transactions: a new writer with the same id fences every older one (on a real cluster) and
/// aborts what it left open.
public final class KafkaWriter: @unchecked Sendable {
    let handle: KafkaHandle

    public init(settings: KafkaClientSettings, label: String, batchSize: Int, compression: String, transactionalID: String? = nil) throws {
        // Produce batches hold at least `minimumBatchRecords`: every fetch of the DR topic later
        // returns whole batches (librdkafka's mock cluster one per fetch), so small ones make every
        // reader of the copy slower, and compress worse.
        var extra = [
            ("enable.idempotence", "true"), ("acks", "all"), ("linger.ms", "10"),
            ("batch.num.messages", String(max(Self.minimumBatchRecords, batchSize))), ("compression.codec", compression),
            ("message.timeout.ms", "30000"), ("queue.buffering.max.messages", "50000"),
            ("queue.buffering.max.kbytes", "32768"),
        ]
        if let transactionalID { extra += [("transactional.id", transactionalID), ("transaction.timeout.ms", "60000")] }
        handle = try KafkaHandle(role: .producer, settings: settings, extra: extra, label: label)
    }

    public var label: String { handle.label }

    /// librdkafka's own default for `batch.num.messages`.
    public static let minimumBatchRecords = 10_000

    // MARK: transactions (blocking; call them on the handle's queue)

    /// Registers the transactional id with its coordinator: fences older writers of the id and
    /// completes (aborts) a transaction they left open. Must come before anything is produced.
    /// Asked in short slices, so a cancelled task (shutdown) stops waiting on a hung cluster.
    public func initTransactions(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let done = try await handle.performToCompletion {
                try self.sliceOfTransactionCall("registering the transactional producer", lastSlice: ContinuousClock.now + .milliseconds(Self.sliceMs) >= deadline) {
                    rd_kafka_init_transactions(self.handle.rk, Self.sliceMs)
                }
            }
            if done { return }
            try Task.checkCancellation()
        }
    }

    func beginBlocking() throws {
        _ = try sliceOfTransactionCall("starting a transaction", lastSlice: true) { rd_kafka_begin_transaction(handle.rk) }
    }

    /// Flushes and commits; on failure the transaction is aborted (when it still can be) and the
    /// error thrown, so none of its records becomes visible to read_committed readers. Waits in
    /// slices and stops early when `giveUp` says so (shutdown).
    func commitBlocking(timeoutMs: Int32, giveUp: () -> Bool = { false }) throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeoutMs))
        do {
            while try !sliceOfTransactionCall("committing a transaction",
                                              lastSlice: giveUp() || ContinuousClock.now + .milliseconds(Self.sliceMs) >= deadline,
                                              { rd_kafka_commit_transaction(handle.rk, Self.sliceMs) }) {}
        } catch {
            abortBlocking(timeoutMs: min(timeoutMs, 5000))
            throw error
        }
    }

    /// Best effort: a writer that cannot abort is dropped, and the next one's init aborts for it.
    func abortBlocking(timeoutMs: Int32) {
        if let error = rd_kafka_abort_transaction(handle.rk, timeoutMs) { rd_kafka_error_destroy(error) }
    }

    /// How long one wait of a transactional call lasts before the caller may give up.
    static let sliceMs: Int32 = 200

    /// One call of a transactional API: true when it succeeded, false when it timed out and may
    /// be called again (librdkafka resumes where it was); throws otherwise, or on the last slice.
    private func sliceOfTransactionCall(_ what: String, lastSlice: Bool, _ call: () -> OpaquePointer?) throws -> Bool {
        guard let error = call() else { return true }
        defer { rd_kafka_error_destroy(error) }
        if !lastSlice, rd_kafka_error_is_retriable(error) != 0 { return false }
        var text = "\(label): \(what): \(String(cString: rd_kafka_error_string(error)))"
        if rd_kafka_error_is_fatal(error) != 0 {
            text += " (fatal: another writer with this transactional id took over, or the producer cannot continue)"
        }
        throw KafkaError(code: rd_kafka_error_code(error), message: text)
    }

    /// Produces `records` in one transaction and waits for its commit.
    public func produceInTransaction(_ records: [ProducedRecord], timeout: Duration = .seconds(30)) async throws {
        try await handle.performToCompletion {
            try self.beginBlocking()
            do {
                try self.queueBlocking(records)
            } catch {
                self.abortBlocking(timeoutMs: Int32(timeout.seconds * 1000))
                throw error
            }
            try self.commitBlocking(timeoutMs: Int32(timeout.seconds * 1000))
        }
    }

    /// Queues `records` in order (no tags).
    func queueBlocking(_ records: [ProducedRecord]) throws {
        for record in records {
            let headers = record.headers.isEmpty ? nil : makeHeaders(record.headers)
            try withOptionalBytes(record.key) { key in
                try withOptionalBytes(record.value) { value in
                    try produceBlocking(topic: record.topic, partition: record.partition, key: key, value: value,
                                        headers: headers, timestamp: record.timestamp, tag: nil)
                }
            }
        }
    }

    /// Produces `records` in order and waits until the cluster acknowledged every one; runs to its
    /// end once started.
    public func produceAndFlush(_ records: [ProducedRecord], timeout: Duration = .seconds(30)) async throws {
        try await handle.performToCompletion {
            try self.queueBlocking(records)
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

    /// Waits until every queued record was acknowledged (or failed), then reports failures. Waits
    /// in slices and stops early when `giveUp` says so (shutdown).
    func flushBlocking(timeoutMs: Int32, giveUp: () -> Bool = { false }) throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeoutMs))
        while true {
            let code = rd_kafka_flush(handle.rk, min(Self.sliceMs, max(1, timeoutMs)))
            if code == RD_KAFKA_RESP_ERR_NO_ERROR { break }
            if code == RD_KAFKA_RESP_ERR__TIMED_OUT, !giveUp(), ContinuousClock.now < deadline { continue }
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
