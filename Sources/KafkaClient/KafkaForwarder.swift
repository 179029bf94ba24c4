import CRdKafka
import Foundation
import Synchronization
import SyncCore

/// How a forwarder with a transactional writer groups records: a transaction ends after
/// `maxRecords` records or `maxDuration`, whichever comes first, and carries the records
/// `syncRecords` makes from what it delivered (spans named by their source topic).
public struct TransactionPlan: Sendable {
    public var maxRecords: Int
    public var maxDuration: Duration
    public var syncRecords: @Sendable ([DeliveredSpan]) -> [ProducedRecord]

    public init(maxRecords: Int, maxDuration: Duration, syncRecords: @escaping @Sendable ([DeliveredSpan]) -> [ProducedRecord]) {
        self.maxRecords = maxRecords
        self.maxDuration = maxDuration
        self.syncRecords = syncRecords
    }
}

/// Consumes assigned partitions of one cluster and produces every record to the same partition of
/// its mapped topic on another (key, value, headers and timestamp kept); commits, per source
/// partition, the offset after the last record the target acknowledged. With a `TransactionPlan`
/// the records and their offset syncs become visible together, at each transaction's commit. One
/// connected run of the built-in mirror, torn down and rebuilt after any failure. Blocking: call it
/// from one queue.
public final class KafkaForwarder: @unchecked Sendable {
    let consumer: KafkaHandle
    let writer: KafkaWriter
    /// Target topic by source topic, and back; keyed by the names' bytes (two spellings of one
    /// name are two topics to Kafka).
    let targetTopics: [ByteKey: String]
    let sourceTopics: [ByteKey: String]
    let batchSize: Int
    private var lastCommit = Date()
    private let messages: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>
    private let consumerQueue: OpaquePointer
    private var assigned: [TopicPartition] = []
    private var wakeCursor = 0
    /// Target topic handles by the consumer's source topic handle: no name lookups per record.
    private var targetHandles: [OpaquePointer: OpaquePointer] = [:]
    let transactions: TransactionPlan?
    private var transactionStart: ContinuousClock.Instant?
    private var transactionRecords = 0

    /// `topics`: each source topic with the target topic its records go to. `transactions` requires
    /// a transactional writer whose transactions were initialised.
    public init(consumer: KafkaHandle, writer: KafkaWriter, topics: [(source: String, target: String)], batchSize: Int,
                transactions: TransactionPlan? = nil) throws {
        self.consumer = consumer
        self.writer = writer
        self.transactions = transactions
        targetTopics = Dictionary(topics.map { ($0.source.byteKey, $0.target) }, uniquingKeysWith: { first, _ in first })
        sourceTopics = Dictionary(topics.map { ($0.target.byteKey, $0.source) }, uniquingKeysWith: { first, _ in first })
        self.batchSize = batchSize
        guard let queue = rd_kafka_queue_get_consumer(consumer.rk) else { throw KafkaError(message: "\(consumer.label): no consumer queue") }
        consumerQueue = queue
        messages = .allocate(capacity: batchSize)
    }

    /// Starts consuming each partition at its offset.
    public func assign(_ starts: [(TopicPartition, Int64)]) async throws {
        try await consumer.performToCompletion { try self.assignBlocking(starts) }
    }

    /// Forwards up to one batch; returns how many records were handed to the producer.
    public func step() async throws -> Int {
        try await consumer.performToCompletion { try self.stepBlocking() }
    }

    /// Waits for every record in flight to be acknowledged, then commits.
    public func settle() async throws {
        try await consumer.performToCompletion { try self.settleBlocking() }
    }

    /// Shutdown: stops waiting for queue space at once, gives the records in flight `flushTimeout`
    /// to be acknowledged, and commits without waiting. Nothing is lost whatever the DR cluster
    /// does meanwhile: the next run resumes from the DR side's own end and offset syncs.
    public func stop(flushTimeout: Duration) async {
        requestStop()
        let milliseconds = Int32(clamping: flushTimeout.components.seconds * 1000 + flushTimeout.components.attoseconds / 1_000_000_000_000_000)
        _ = try? await consumer.performToCompletion {
            // An open transaction that cannot commit in time stays invisible; the next run re-reads it.
            if self.transactionStart != nil {
                try? self.commitTransactionBlocking(timeoutMs: milliseconds, giveUp: { false })
            } else {
                try? self.writer.flushBlocking(timeoutMs: milliseconds)
            }
            self.commitAcknowledged(async: true)
        }
    }

    /// Set by `stop`: a produce waiting for queue space, or a transaction's commit, gives up
    /// instead of waiting for the DR side.
    let stopRequested = Mutex(false)
    private var giveUp: () -> Bool { { self.stopRequested.withLock { $0 } } }

    /// Makes a step that waits for queue space end now (callable from any thread).
    public func requestStop() {
        stopRequested.withLock { $0 = true }
    }

    deinit {
        targetHandles.values.forEach { rd_kafka_topic_destroy($0) }
        rd_kafka_queue_destroy(consumerQueue)
        messages.deallocate()
    }

    func assignBlocking(_ starts: [(TopicPartition, Int64)]) throws {
        let list = rd_kafka_topic_partition_list_new(Int32(starts.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (partition, offset) in starts {
            rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition).pointee.offset = offset
        }
        let code = rd_kafka_assign(consumer.rk, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw consumer.fail(code, "assigning the mirrored partitions") }
        assigned = starts.map(\.0)
    }

    /// Mirrors up to one batch; returns how many records were handed to the producer.
    func stepBlocking() throws -> Int {
        let count = nextMessages(consumerQueue, messages, batchSize, timeoutMs: 100) {
            guard !assigned.isEmpty else { return }
            // Round robin: each wake reaches the leader of one assigned partition.
            wakeCursor = (wakeCursor + 1) % assigned.count
            consumer.wakeFetcher(assigned[wakeCursor])
        }
        if count < 0 { throw consumer.fail(rd_kafka_last_error(), "consuming the source topics") }
        var produced = 0
        try consumeBatch(messages, max(0, count), handle: consumer, context: "consuming the source topics") { message in
            let record = RecordView(message: message)
            guard let sourceHandle = message.pointee.rkt, let target = targetHandle(for: sourceHandle) else { return }
            if transactions != nil, transactionStart == nil { try beginTransactionBlocking() }
            try writer.produceBlocking(to: target, partition: record.partition, key: record.key, value: record.value,
                                       headers: record.copiedHeaders(), timestamp: record.timestamp, tag: record.offset,
                                       giveUp: giveUp)
            produced += 1
        }
        writer.pollBlocking()
        if let failure = writer.handle.events.firstFailure {
            if transactionStart != nil { writer.abortBlocking(timeoutMs: 5000) }
            throw KafkaError(message: "\(writer.label): a mirrored record was not delivered: \(failure)")
        }
        if let transactions, let started = transactionStart {
            transactionRecords += produced
            if transactionRecords >= transactions.maxRecords || ContinuousClock.now - started >= transactions.maxDuration {
                try commitTransactionBlocking(timeoutMs: 30000)
            }
        } else if transactions == nil, Date().timeIntervalSince(lastCommit) >= 1 {
            commitAcknowledged(async: true)
        }
        return produced
    }

    private func beginTransactionBlocking() throws {
        _ = writer.handle.events.takeSpans() // what came before belongs to no transaction
        try writer.beginBlocking()
        transactionStart = .now
        transactionRecords = 0
    }

    /// Waits for the transaction's records, adds the offset syncs their delivery reports imply, and
    /// commits: records and syncs become visible together or not at all.
    func commitTransactionBlocking(timeoutMs: Int32, giveUp: (() -> Bool)? = nil) throws {
        let giveUp = giveUp ?? self.giveUp
        guard let transactions, transactionStart != nil else { return }
        transactionStart = nil
        do {
            try writer.flushBlocking(timeoutMs: timeoutMs, giveUp: giveUp)
            let spans = writer.handle.events.takeSpans().compactMap { span -> DeliveredSpan? in
                guard let source = sourceTopics[span.topic.byteKey] else { return nil }
                var named = span
                named.topic = source
                return named
            }
            try writer.queueBlocking(transactions.syncRecords(spans))
        } catch {
            writer.abortBlocking(timeoutMs: min(timeoutMs, 5000))
            throw error
        }
        try writer.commitBlocking(timeoutMs: timeoutMs, giveUp: giveUp)
        commitAcknowledged(async: true)
    }

    private func targetHandle(for sourceHandle: OpaquePointer) -> OpaquePointer? {
        if let known = targetHandles[sourceHandle] { return known }
        // Source handles are stable per topic; should they ever not be, the cache stays bounded.
        if targetHandles.count > 4 * targetTopics.count + 16 {
            targetHandles.values.forEach { rd_kafka_topic_destroy($0) }
            targetHandles = [:]
        }
        guard let name = targetTopics[String(cString: rd_kafka_topic_name(sourceHandle)).byteKey], let created = writer.topicHandle(name) else { return nil }
        targetHandles[sourceHandle] = created
        return created
    }

    /// Waits for every record in flight to be acknowledged, then commits.
    func settleBlocking() throws {
        if transactionStart != nil {
            try commitTransactionBlocking(timeoutMs: 30000)
        } else {
            try writer.flushBlocking(timeoutMs: 30000)
        }
        commitAcknowledged(async: false)
    }

    /// Commits, per source partition, the offset after the last record the DR side acknowledged.
    private func commitAcknowledged(async: Bool) {
        lastCommit = Date()
        let acknowledged = writer.handle.events.acknowledgedTags
        let list = rd_kafka_topic_partition_list_new(8)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        var any = false
        for (targetTopic, partitions) in acknowledged {
            guard let sourceTopic = sourceTopics[targetTopic] else { continue }
            for (partition, offset) in partitions {
                rd_kafka_topic_partition_list_add(list, sourceTopic, partition).pointee.offset = offset + 1
                any = true
            }
        }
        // Progress for Kafka tooling only: the resume position comes from the DR side.
        if any { _ = rd_kafka_commit(consumer.rk, list, async ? 1 : 0) }
    }
}
