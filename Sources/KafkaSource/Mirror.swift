import Foundation
import KafkaClient
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
        var session: KafkaForwarder?
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
                    do { try await current.settle() } catch { set(.failed, error: "\(error)") }
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
                let count = try await withTaskCancellationHandler {
                    try await current.step()
                } onCancel: {
                    current.requestStop()
                }
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
        // Stopping: a bounded flush and no blocking commit, so shutdown never waits on the DR cluster.
        if let current = session { await current.stop(flushTimeout: Self.stopFlushTimeout) }
        let waiters = lock.withLock { defer { freshWaiters = [] }; return freshWaiters }
        waiters.forEach { $0.resume(throwing: SyncError.invalidState("the mirror of '\(sourceName)' stopped")) }
        set(.stopped)
    }

    /// How long records in flight get at shutdown; the rest is re-read by the next run.
    static let stopFlushTimeout: Duration = .seconds(2)

    private func close(_ session: KafkaForwarder) async {
        if Task.isCancelled {
            await session.stop(flushTimeout: Self.stopFlushTimeout)
        } else {
            _ = try? await session.settle()
        }
    }

    func note(_ text: String) {
        lock.withLock {
            notes.append(text)
            if notes.count > 20 { notes.removeFirst(notes.count - 20) }
        }
    }
}

/// Opens a run of the mirror: fences older writers, works out where each partition resumes,
/// records new positions, and hands the rest to a `KafkaForwarder`.
enum MirrorSession {
    /// Records per transaction at most, and how long one stays open: the lag a reader sees is at
    /// least this, and a takeover re-mirrors at most one transaction.
    static let transactionRecords = 200_000
    static let transactionDuration: Duration = .milliseconds(500)

    /// One id per source: a new leader's producer fences the old one's and aborts what it left open.
    static func transactionalID(_ source: String) -> String { "syncd-mirror.\(source)" }

    /// Works out every partition's resume offset from the DR side and starts consuming there.
    /// `fresh`: start a new DR position at the earliest retained source offset (force full sync).
    static func open(mirror: BuiltInMirror, fresh: Bool) async throws -> KafkaForwarder {
        let config = mirror.config
        let options = mirror.options
        let settings = KafkaClientSettings(endpoint: config.dr, clientID: "syncd-mirror-\(config.name)")
        let writer: KafkaWriter
        let consumer: KafkaHandle
        do {
            writer = try KafkaWriter(settings: settings, label: describeSide(.dr, config.dr), batchSize: options.batchSize,
                                     compression: options.compression, transactionalID: transactionalID(config.name))
            consumer = try KafkaHandle(role: .consumer, settings: KafkaClientSettings(endpoint: config.primary, clientID: "syncd-mirror-\(config.name)"), extra: [
                ("group.id", "syncd-mirror.\(config.name)"), ("enable.auto.commit", "false"), ("enable.auto.offset.store", "false"),
                ("auto.offset.reset", "error"), ("fetch.wait.max.ms", "50"), ("queued.min.messages", KafkaMemory.prefetchRecords),
                ("queued.max.messages.kbytes", KafkaMemory.prefetchKilobytes),
            ], label: describeSide(.primary, config.primary))
            // Before the DR side is read: an older writer's open transaction is aborted here, so
            // the position below is read past it, and that writer can commit nothing more.
            try await writer.initTransactions()
        } catch let error as KafkaError {
            throw SyncError.failed(error.message)
        }

        let topics = try await mirror.resolveLayout()
        let source = try KafkaCluster(side: .primary, endpoint: config.primary, purpose: "mirror-setup")
        let dr = try KafkaCluster(side: .dr, endpoint: config.dr, purpose: "mirror-setup")
        let syncs = try await OffsetSyncReader(topic: options.offsetSyncsTopic).refresh(from: dr)
        let pairs = topics.flatMap { topic in topic.sourcePartitions.map { ($0, TopicPartition(topic.dr, $0.partition)) } }
        let drMarks = try await dr.watermarks(pairs.map(\.1))
        let sourceMarks = try await source.watermarks(pairs.map(\.0))

        var starts: [(TopicPartition, Int64)] = []
        var newSyncs: [OffsetSync] = []
        for (index, (partition, target)) in pairs.enumerated() {
            let (sourceLow, sourceHigh) = sourceMarks[index]
            let (drLow, drHigh) = drMarks[index]
            let mapping = syncs.mapping(partition)
            var start: Int64
            if fresh || mapping.isEmpty {
                start = sourceLow
                newSyncs.append(OffsetSync(topic: partition.topic, partition: partition.partition, upstreamOffset: start, downstreamOffset: drHigh))
            } else {
                start = try await resumePosition(mapping, target, drLow: drLow, drHigh: drHigh, dr: dr, mirror: mirror)
                if start != mapping.sourcePosition(forDREnd: drHigh), start >= sourceLow, start <= sourceHigh {
                    // Offsets the count skipped (an aborted transaction of a fenced writer) would
                    // shift the lag and the check until the next commit: record where the next record lands.
                    newSyncs.append(OffsetSync(topic: partition.topic, partition: partition.partition, upstreamOffset: start, downstreamOffset: drHigh))
                }
                if start > sourceHigh {
                    throw SyncError.invalidState("\(target) on the DR side holds \(start - sourceHigh) record(s) more than \(partition) on the primary maps to; something else writes to the DR topic (force a full sync to start a fresh DR position)")
                }
                if start < sourceLow {
                    mirror.note("\(partition): \(sourceLow - start) record(s) expired on the primary before they were mirrored (offsets \(start)..\(sourceLow - 1)); mirroring continues at \(sourceLow)")
                    start = sourceLow
                    newSyncs.append(OffsetSync(topic: partition.topic, partition: partition.partition, upstreamOffset: start, downstreamOffset: drHigh))
                }
            }
            starts.append((partition, start))
        }

        let syncsTopic = options.offsetSyncsTopic
        let plan = TransactionPlan(maxRecords: transactionRecords, maxDuration: transactionDuration) { spans in
            TransactionSyncs.syncs(for: spans).map { $0.record(in: syncsTopic) }
        }
        let session = try KafkaForwarder(consumer: consumer, writer: writer, topics: topics.map { ($0.source, $0.dr) },
                                         batchSize: options.batchSize, transactions: plan)
        do {
            // The new positions are on record before the first record that depends on them.
            if !newSyncs.isEmpty { try await writer.produceInTransaction(newSyncs.map { $0.record(in: syncsTopic) }) }
            try await session.assign(starts)
        } catch let error as KafkaError {
            throw SyncError.failed(error.message)
        }
        return session
    }

    /// The next source offset of a partition: from the last sync the DR end has reached, the
    /// committed records after it are counted (read_committed skips transaction markers and
    /// aborted records, which offset arithmetic would count).
    static func resumePosition(_ mapping: PartitionMapping, _ target: TopicPartition, drLow: Int64, drHigh: Int64,
                               dr: KafkaCluster, mirror: BuiltInMirror) async throws -> Int64 {
        guard let anchor = mapping.resumeAnchor(forDREnd: drHigh) else { return mapping.sourcePosition(forDREnd: drHigh) }
        guard anchor.downstream >= drLow else {
            // The anchor's records are gone from the DR side: nothing left to count from.
            mirror.note("\(target): the DR records after the last offset sync are partly gone from retention; the resume position is computed from offsets")
            return mapping.sourcePosition(forDREnd: drHigh)
        }
        let (count, _) = try await dr.run { reader in
            try await reader.read(target, from: anchor.downstream, to: drHigh, into: Int64(0)) { count, _ in count += 1 }
        }
        return min(anchor.upstream + count, anchor.nextUpstream)
    }
}
