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

/// Opens a run of the mirror: works out where each partition resumes, records new positions,
/// and hands the rest to a `KafkaForwarder`.
enum MirrorSession {
    /// Works out every partition's resume offset from the DR side and starts consuming there.
    /// `fresh`: start a new DR position at the earliest retained source offset (force full sync).
    static func open(mirror: BuiltInMirror, fresh: Bool) async throws -> KafkaForwarder {
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
        let session = try KafkaForwarder(consumer: consumer, writer: writer, topics: topics.map { ($0.source, $0.dr) }, batchSize: options.batchSize)
        do {
            // The new positions are on record before the first record that depends on them.
            if !newSyncs.isEmpty { try await writer.produceAndFlush(newSyncs.map { $0.record(in: options.offsetSyncsTopic) }) }
            try await session.assign(starts)
        } catch let error as KafkaError {
            throw SyncError.failed(error.message)
        }
        return session
    }
}
