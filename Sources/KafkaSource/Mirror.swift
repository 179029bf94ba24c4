import CRdKafka
import Foundation
import SyncCore

/// syncd's own mirror for sites without MirrorMaker 2: consumes the source topics and produces
/// every record to the same partition of the DR topic (key, value, headers, timestamp kept) with an
/// idempotent producer. Where it resumes is derived from the DR side itself — the DR partition's end
/// and the mirror's offset syncs — so a crash between a write and its commit neither loses nor
/// duplicates records; the consumer-group commit (after the DR side acknowledged) shows progress to
/// Kafka tooling.
final class BuiltInMirror: @unchecked Sendable {
    enum Phase: String, Sendable { case stopped, starting, running, paused, failed }

    struct Status: Sendable {
        var phase: Phase
        var error: String?
        var recordsMirrored: Int64
        var notes: [String]
    }

    let sourceName: String
    let config: SourceConfig
    let options: KafkaOptions
    let resolveLayout: @Sendable () async throws -> [MirroredTopic]
    private let queue: BlockingQueue

    private let lock = NSLock()
    private var pauseRequested = false
    private var restartRequested = false
    private var freshWaiters: [CheckedContinuation<Void, Error>] = []
    private var phase: Phase = .stopped
    private var lastError: String?
    private var notes: [String] = []
    private var mirrored: Int64 = 0

    init(config: SourceConfig, options: KafkaOptions, resolveLayout: @escaping @Sendable () async throws -> [MirroredTopic]) {
        sourceName = config.name
        self.config = config
        self.options = options
        self.resolveLayout = resolveLayout
        queue = BlockingQueue(label: "syncd.kafka.mirror.\(config.name)")
    }

    var status: Status {
        lock.withLock { Status(phase: phase, error: lastError, recordsMirrored: mirrored, notes: notes) }
    }

    var isHosted: Bool { lock.withLock { phase != .stopped } }
    var isPaused: Bool { lock.withLock { pauseRequested } }

    func pause() { lock.withLock { pauseRequested = true } }
    func resume() { lock.withLock { pauseRequested = false } }
    func restart() { lock.withLock { restartRequested = true } }

    /// Re-mirrors every partition from its earliest retained source offset into a fresh DR position;
    /// returns once the new positions are recorded and the mirror runs from them.
    func startFresh() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            lock.withLock {
                freshWaiters.append(continuation)
                pauseRequested = false
            }
        }
    }

    private func set(_ newPhase: Phase, error: String? = nil) {
        lock.withLock {
            phase = newPhase
            lastError = error
        }
    }

    /// The mirror's loop; returns when the task is cancelled.
    func run() async {
        set(.starting)
        var session: MirrorSession?
        var backoff = 1.0
        var settled = false
        while !Task.isCancelled {
            let (paused, restart, fresh) = lock.withLock { (pauseRequested, restartRequested, !freshWaiters.isEmpty) }
            if fresh || restart {
                if let current = session { await close(current) }
                session = nil
                lock.withLock { restartRequested = false }
            }
            if paused, !fresh {
                if let current = session, !settled {
                    settled = true
                    // Everything handed to the producer is acknowledged and committed before "paused" shows.
                    do { try await queue.run { try current.settleBlocking() } } catch { set(.failed, error: "\(error)") }
                }
                if lock.withLock({ pauseRequested }) { set(.paused) }
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            do {
                if session == nil {
                    set(.starting)
                    session = try await MirrorSession.open(mirror: self, fresh: fresh)
                    if fresh {
                        let waiters = lock.withLock { defer { freshWaiters = [] }; return freshWaiters }
                        waiters.forEach { $0.resume() }
                    }
                    backoff = 1
                }
                set(.running)
                settled = false
                let current = session!
                let count = try await queue.run { try current.stepBlocking() }
                lock.withLock { mirrored += Int64(count) }
            } catch {
                set(.failed, error: "\(error)")
                if fresh {
                    let waiters = lock.withLock { defer { freshWaiters = [] }; return freshWaiters }
                    waiters.forEach { $0.resume(throwing: error) }
                }
                if let current = session { await close(current) }
                session = nil
                try? await Task.sleep(for: .seconds(backoff))
                backoff = min(backoff * 2, 30)
            }
        }
        if let current = session { await close(current) }
        let waiters = lock.withLock { defer { freshWaiters = [] }; return freshWaiters }
        waiters.forEach { $0.resume(throwing: SyncError.invalidState("the mirror of '\(sourceName)' stopped")) }
        set(.stopped)
    }

    private func close(_ session: MirrorSession) async {
        _ = try? await queue.run { try session.settleBlocking() }
    }

    func note(_ text: String) {
        lock.withLock {
            notes.append(text)
            if notes.count > 20 { notes.removeFirst(notes.count - 20) }
        }
    }
}

/// One connected run of the mirror: a source consumer assigned at the resume offsets and a DR
/// producer. Torn down and rebuilt after any failure.
final class MirrorSession: @unchecked Sendable {
    let consumer: KafkaHandle
    let writer: KafkaWriter
    let drTopics: [String: String]
    let sourceTopics: [String: String]
    let batchSize: Int
    private var lastCommit = Date()
    private let messages: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>
    private let consumerQueue: OpaquePointer
    private var assigned: [TopicPartition] = []
    private var wakeCursor = 0
    /// DR topic handles by the consumer's source topic handle: no name lookups per record.
    private var drHandles: [OpaquePointer: OpaquePointer] = [:]

    private init(consumer: KafkaHandle, writer: KafkaWriter, topics: [MirroredTopic], batchSize: Int) throws {
        self.consumer = consumer
        self.writer = writer
        drTopics = Dictionary(uniqueKeysWithValues: topics.map { ($0.source, $0.dr) })
        sourceTopics = Dictionary(uniqueKeysWithValues: topics.map { ($0.dr, $0.source) })
        self.batchSize = batchSize
        guard let queue = rd_kafka_queue_get_consumer(consumer.rk) else { throw KafkaError(message: "\(consumer.label): no consumer queue") }
        consumerQueue = queue
        messages = .allocate(capacity: batchSize)
    }

    deinit {
        drHandles.values.forEach { rd_kafka_topic_destroy($0) }
        rd_kafka_queue_destroy(consumerQueue)
        messages.deallocate()
    }

    /// Works out every partition's resume offset from the DR side and starts consuming there.
    /// `fresh`: start a new DR position at the earliest retained source offset (force full sync).
    static func open(mirror: BuiltInMirror, fresh: Bool) async throws -> MirrorSession {
        let config = mirror.config
        let options = mirror.options
        let topics = try await mirror.resolveLayout()
        let source = try KafkaCluster(side: .primary, endpoint: config.primary, purpose: "mirror-setup")
        let dr = try KafkaCluster(side: .dr, endpoint: config.dr, purpose: "mirror-setup")
        let syncs = try await OffsetSyncReader(topic: options.offsetSyncsTopic).refresh(from: dr)

        var starts: [(TopicPartition, Int64)] = []
        var newSyncs: [OffsetSync] = []
        for topic in topics {
            for partition in topic.sourcePartitions {
                let (sourceLow, sourceHigh) = try await source.watermarks(partition)
                let (_, drHigh) = try await dr.watermarks(TopicPartition(topic.dr, partition.partition))
                let mapping = syncs.mapping(partition)
                var start: Int64
                if fresh || mapping.isEmpty {
                    start = sourceLow
                    newSyncs.append(OffsetSync(topic: partition.topic, partition: partition.partition, upstreamOffset: start, downstreamOffset: drHigh))
                } else {
                    start = mapping.sourcePosition(forDREnd: drHigh)
                    if start > sourceHigh {
                        throw SyncError.invalidState("\(topic.dr)[\(partition.partition)] on the DR side holds \(start - sourceHigh) record(s) more than \(partition) on the primary maps to; something else writes to the DR topic (force a full sync to start a fresh DR position)")
                    }
                    if start < sourceLow {
                        mirror.note("\(partition): \(sourceLow - start) record(s) expired on the primary before they were mirrored (offsets \(start)..\(sourceLow - 1)); mirroring continues at \(sourceLow)")
                        start = sourceLow
                        newSyncs.append(OffsetSync(topic: partition.topic, partition: partition.partition, upstreamOffset: start, downstreamOffset: drHigh))
                    }
                }
                starts.append((partition, start))
            }
        }

        let settings = KafkaClientSettings(endpoint: config.dr, clientID: "syncd-mirror-\(config.name)")
        let writer: KafkaWriter
        let consumer: KafkaHandle
        do {
            writer = try KafkaWriter(settings: settings, label: describeSide(.dr, config.dr), batchSize: options.batchSize, compression: options.compression)
            consumer = try KafkaHandle(role: .consumer, settings: KafkaClientSettings(endpoint: config.primary, clientID: "syncd-mirror-\(config.name)"), extra: [
                ("group.id", "syncd-mirror.\(config.name)"), ("enable.auto.commit", "false"), ("enable.auto.offset.store", "false"),
                ("auto.offset.reset", "error"), ("fetch.wait.max.ms", "50"), ("queued.min.messages", KafkaMemory.prefetchRecords),
                ("queued.max.messages.kbytes", KafkaMemory.prefetchKilobytes),
            ], label: describeSide(.primary, config.primary))
        } catch let error as KafkaError {
            throw SyncError.failed(error.message)
        }
        let session = try MirrorSession(consumer: consumer, writer: writer, topics: topics, batchSize: options.batchSize)
        let syncsTopic = options.offsetSyncsTopic
        let pendingSyncs = newSyncs
        let assignments = starts
        try await mirror.queueRun {
            // The new positions are on record before the first record that depends on them.
            for sync in pendingSyncs {
                let key = sync.encodedKey
                let value = sync.encodedValue
                try key.withUnsafeBytes { keyBytes in
                    try value.withUnsafeBytes { valueBytes in
                        try writer.produceBlocking(topic: syncsTopic, partition: 0, key: keyBytes, value: valueBytes, headers: nil,
                                                   timestamp: 0, tag: nil)
                    }
                }
            }
            if !pendingSyncs.isEmpty { try writer.flushBlocking(timeoutMs: 30000) }
            try session.assignBlocking(assignments)
        }
        return session
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
            guard let sourceHandle = message.pointee.rkt, let drTopic = drTopicHandle(for: sourceHandle) else { return }
            try writer.produceBlocking(to: drTopic, partition: record.partition, key: record.key, value: record.value,
                                       headers: record.copiedHeaders(), timestamp: record.timestamp, tag: record.offset)
            produced += 1
        }
        writer.pollBlocking()
        if let failure = writer.handle.events.firstFailure {
            throw KafkaError(message: "\(writer.label): a mirrored record was not delivered: \(failure)")
        }
        if Date().timeIntervalSince(lastCommit) >= 1 { commitAcknowledged(async: true) }
        return produced
    }

    private func drTopicHandle(for sourceHandle: OpaquePointer) -> OpaquePointer? {
        if let known = drHandles[sourceHandle] { return known }
        // Source handles are stable per topic; should they ever not be, the cache stays bounded.
        if drHandles.count > 4 * drTopics.count + 16 {
            drHandles.values.forEach { rd_kafka_topic_destroy($0) }
            drHandles = [:]
        }
        guard let name = drTopics[String(cString: rd_kafka_topic_name(sourceHandle))], let created = writer.topicHandle(name) else { return nil }
        drHandles[sourceHandle] = created
        return created
    }

    /// Waits for every record in flight to be acknowledged, then commits.
    func settleBlocking() throws {
        try writer.flushBlocking(timeoutMs: 30000)
        commitAcknowledged(async: false)
    }

    /// Commits, per source partition, the offset after the last record the DR side acknowledged.
    private func commitAcknowledged(async: Bool) {
        lastCommit = Date()
        let acknowledged = writer.handle.events.acknowledgedTags
        let list = rd_kafka_topic_partition_list_new(8)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        var any = false
        for (drTopic, partitions) in acknowledged {
            guard let sourceTopic = sourceTopics[drTopic] else { continue }
            for (partition, offset) in partitions {
                rd_kafka_topic_partition_list_add(list, sourceTopic, partition).pointee.offset = offset + 1
                any = true
            }
        }
        // Progress for Kafka tooling only: the resume position comes from the DR side.
        if any { _ = rd_kafka_commit(consumer.rk, list, async ? 1 : 0) }
    }
}

extension BuiltInMirror {
    func queueRun(_ body: @escaping @Sendable () throws -> Void) async throws {
        do {
            try await queue.run(body)
        } catch let error as KafkaError {
            throw SyncError.failed(error.message)
        }
    }
}
