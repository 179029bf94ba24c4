import Foundation
import KafkaClient
import SyncCore

/// Kafka topics on a source cluster and their copies on a DR cluster, replicated by an external
/// MirrorMaker 2 or by syncd's built-in mirror (config `mode`).
public actor KafkaSource: SourceAdapter {
    public nonisolated let name: String
    public nonisolated let kind: SourceKind = .kafka
    public nonisolated let volumeUnit: VolumeUnit = .records
    let config: SourceConfig
    let options: KafkaOptions
    let topicMapping: TopicMapping
    let mirror: BuiltInMirror?
    private var clusters: [Side: KafkaCluster] = [:]
    private var syncReader: OffsetSyncReader
    /// The previous poll's DR high watermark per partition, for per-partition throughput.
    private var previousDRHighs: [TopicPartition: (time: Date, high: Int64)] = [:]
    /// When each source partition's high watermark was first seen at each new value: lag in
    /// seconds is read from it, never from record timestamps (producers set those, replays repeat them).
    private var highHistory: [TopicPartition: PositionHistory] = [:]
    static let partitionDetailLimit = 64

    static let fullSyncTimeout: Duration = .seconds(3600)
    static let confirmTimeout: Duration = .seconds(30)

    public init(config: SourceConfig) {
        name = config.name
        self.config = config
        let options = config.kafka ?? KafkaOptions(mode: .mirror, topics: [], sourceName: config.name)
        self.options = options
        topicMapping = options.policy == .identity ? .identity : .mirrorMaker(sourceAlias: options.sourceAlias, separator: options.separator)
        syncReader = OffsetSyncReader(topic: options.offsetSyncsTopic)
        if options.mode == .mirror {
            let primary = config.primary
            let dr = config.dr
            let mapping = topicMapping
            mirror = BuiltInMirror(config: config, options: options) {
                let layout = try await KafkaSource.resolveLayout(options: options, mapping: mapping, primary: primary, dr: dr)
                guard layout.problems.isEmpty else { throw SyncError.invalidState(layout.problems.joined(separator: "; ")) }
                return layout.topics
            }
        } else {
            mirror = nil
        }
    }

    public func capabilities() async -> Set<SourceOperation> {
        options.mode == .mirror ? [.pause, .resume, .fullSync, .drain, .check, .reconcile] : [.drain, .check, .reconcile]
    }

    public func shutdown() async {
        clusters = [:]
    }

    /// The daemon runs the built-in mirror here (and its group offset sync); syncctl's in-process
    /// engine does not. Runs on the leader only.
    public func runBackground(paused: Bool) async {
        guard let mirror else { return }
        if paused { mirror.pause() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await mirror.run() }
            if self.options.syncGroupOffsets, !self.options.consumerGroups.isEmpty {
                group.addTask { await self.syncGroupOffsets() }
            }
        }
    }

    // MARK: clusters and layout

    func endpoint(_ side: Side) -> EndpointConfig { side == .primary ? config.primary : config.dr }

    func cluster(_ side: Side) throws -> KafkaCluster {
        if let existing = clusters[side] { return existing }
        let created = try KafkaCluster(side: side, endpoint: endpoint(side), purpose: "monitor")
        clusters[side] = created
        return created
    }

    var syncsSide: Side { options.offsetSyncsCluster == .primary ? .primary : .dr }

    static func resolveLayout(options: KafkaOptions, mapping: TopicMapping, primary: EndpointConfig, dr: EndpointConfig) async throws -> TopicLayout {
        try await TopicLayout.read(options: options, mapping: mapping,
                                   primary: KafkaCluster(side: .primary, endpoint: primary, purpose: "layout"),
                                   dr: KafkaCluster(side: .dr, endpoint: dr, purpose: "layout"))
    }

    func layout() async throws -> TopicLayout {
        try await TopicLayout.read(options: options, mapping: topicMapping, primary: cluster(.primary), dr: cluster(.dr))
    }

    /// One partition pair as both clusters report it, with where the DR side has got to.
    struct PartitionState: Sendable {
        var source: TopicPartition
        var dr: TopicPartition
        var sourceLow: Int64
        var sourceHigh: Int64
        var drLow: Int64
        var drHigh: Int64
        var mapping: PartitionMapping

        /// The next source offset the DR side does not have yet.
        var mirroredUpTo: Int64 { mapping.sourcePosition(forDREnd: drHigh) }
        /// The source offset the DR side has everything before (retention-deleted records cannot be mirrored any more).
        var applied: Int64 { max(mirroredUpTo, sourceLow) }
        /// Source records not yet on the DR side.
        var behind: Int64 { max(0, sourceHigh - applied) }
        /// DR records beyond the source's high watermark under the current offset mapping: something
        /// else wrote to the DR topic, or the mapping is not the one the DR copy was made with.
        var ahead: Int64 { max(0, mirroredUpTo - sourceHigh) }
    }

    struct Observation: Sendable {
        var layout: TopicLayout
        var partitions: [PartitionState]
        var syncs: OffsetSyncLog
    }

    /// Watermarks of every partition on both sides and the offset mapping. The DR side is read
    /// first, so the records behind err on the high side and never show a false zero.
    func observe(layout given: TopicLayout? = nil) async throws -> Observation {
        var layout: TopicLayout
        if let given { layout = given } else { layout = try await self.layout() }
        let primary = try cluster(.primary)
        let dr = try cluster(.dr)
        // Every partition of a side in one batched request: a topic of 1000 partitions is a few
        // round trips, not 2000. The DR side first, so the records behind err high.
        let pairs = layout.topics.flatMap { topic in topic.sourcePartitions.map { ($0, TopicPartition(topic.dr, $0.partition)) } }
        let drMarks = try await dr.watermarks(pairs.map(\.1))
        _ = try await syncReader.refresh(from: cluster(syncsSide))
        let primaryMarks = try await primary.watermarks(pairs.map(\.0))
        let syncs = syncReader.prune(zip(pairs, primaryMarks).map { ($0.0.0, $0.1.low) })
        var states: [PartitionState] = []
        states.reserveCapacity(pairs.count)
        for (index, (source, target)) in pairs.enumerated() {
            let (low, high) = primaryMarks[index]
            let drMark = drMarks[index]
            states.append(PartitionState(source: source, dr: target, sourceLow: low, sourceHigh: high,
                                         drLow: drMark.low, drHigh: drMark.high, mapping: syncs.mapping(source)))
        }
        return Observation(layout: layout, partitions: states, syncs: syncs)
    }

    // MARK: sample

    public func sample() async -> Sample {
        let now = Date()
        var sample = Sample(time: now, state: .inSync, unit: .records, topology: options.mode.rawValue)
        let observation: Observation
        do {
            observation = try await observe()
        } catch {
            return .failed(error, time: now, unit: .records, topology: sample.topology)
        }
        let partitions = observation.partitions
        let behind = partitions.reduce(Int64(0)) { $0 + $1.behind }
        sample.lagVolume = behind
        sample.position = partitions.reduce(Int64(0)) { $0 + $1.drHigh }
        sample.details["topics"] = observation.layout.topics.map { $0.source == $0.dr ? $0.source : "\($0.source) -> \($0.dr)" }.joined(separator: ", ")
        sample.details["partitions"] = String(partitions.count)
        sample.details["records_behind"] = String(behind)
        // Per partition: watermarks, records behind, DR throughput since the last poll. With many
        // partitions only the lagging ones are listed.
        let listed = partitions.count <= Self.partitionDetailLimit ? partitions : Array(partitions.filter { $0.behind > 0 }.prefix(Self.partitionDetailLimit))
        for state in listed {
            var text = "source \(state.sourceLow)..\(state.sourceHigh), DR \(state.drLow)..\(state.drHigh), behind \(state.behind)"
            if let previous = previousDRHighs[state.source], now.timeIntervalSince(previous.time) > 0 {
                text += String(format: ", %.1f records/s", Double(max(0, state.drHigh - previous.high)) / now.timeIntervalSince(previous.time))
            }
            sample.details["partition \(state.source)"] = text
        }
        previousDRHighs = Dictionary(uniqueKeysWithValues: partitions.map { ($0.source, (now, $0.drHigh)) })
        sample.details["offset_mapping"] = observation.syncs.mappings.isEmpty
            ? "no offset syncs in \(options.offsetSyncsTopic) on the \(syncsSide == .primary ? "primary" : "DR") cluster: offsets are assumed preserved"
            : "\(observation.syncs.recordsRead) offset sync(s) from \(options.offsetSyncsTopic) on the \(syncsSide == .primary ? "primary" : "DR") cluster"
        if observation.syncs.undecodable > 0 {
            sample.errors.append("\(observation.syncs.undecodable) record(s) of \(options.offsetSyncsTopic) are not offset syncs and were ignored")
        }
        sample.lagSeconds = lagSeconds(partitions, now: now, into: &sample)
        let ahead = partitions.filter { $0.ahead > 0 }
        if !ahead.isEmpty {
            sample.state = .broken
            sample.details["partitions_ahead"] = String(ahead.count)
            sample.errors += ahead.prefix(Self.partitionDetailLimit).map { state in
                "\(state.dr) on the DR side is \(state.ahead) record(s) ahead of \(state.source) on the primary (its end maps to source offset \(state.mirroredUpTo), the source's high watermark is \(state.sourceHigh)): something else writes to the DR topic, or the offset mapping is not the one this copy was made with (a force full sync starts a new one)"
            }
            return sample
        }
        if let mirror {
            let status = mirror.status
            sample.details["mirror"] = status.phase == .stopped ? "runs in the syncd daemon (not in this process)" : status.phase.rawValue
            if status.phase != .stopped { sample.details["mirror_records"] = String(status.recordsMirrored) }
            if let note = status.notes.last { sample.details["mirror_note"] = note }
            if status.phase == .failed, let error = status.error {
                sample.state = .broken
                sample.errors.append("the built-in mirror failed (retrying): \(error)")
                return sample
            }
            if status.phase == .paused {
                sample.state = .paused
                return sample
            }
        }
        if !observation.layout.problems.isEmpty {
            sample.state = .broken
            sample.errors += observation.layout.problems
            return sample
        }
        if let lag = sample.lagSeconds, lag > config.policy.lagBudgetSeconds {
            sample.state = .lagging
        } else if sample.lagSeconds == nil {
            sample.state = behind > 0 ? .lagging : .inSync
        } else {
            sample.state = behind > 0 ? .syncing : .inSync
        }
        return sample
    }

    /// Per partition: the time since the source's high watermark was first seen past the offset the
    /// DR side's end maps to, at least one poll interval while any record is behind (the record was
    /// written some time in the last interval), 0 only when none is. The worst partition counts.
    func lagSeconds(_ partitions: [PartitionState], now: Date, into sample: inout Sample) -> Double {
        var worst = 0.0
        var lowerBound = false
        var seen: Set<TopicPartition> = []
        for state in partitions {
            seen.insert(state.source)
            var history = highHistory[state.source] ?? PositionHistory(capacity: 1024)
            history.record(position: state.sourceHigh, at: now)
            let lag = history.lag(applied: state.applied, now: now)
            highHistory[state.source] = history
            guard state.behind > 0 else { continue }
            let seconds: Double
            switch lag {
            case let .measured(value): seconds = value
            case let .atLeast(value):
                seconds = value
                lowerBound = true
            }
            let partitionLag = max(seconds, config.pollIntervalSeconds)
            worst = max(worst, partitionLag)
            if let text = sample.details["partition \(state.source)"] {
                sample.details["partition \(state.source)"] = text + String(format: ", lag %.1f s", partitionLag)
            }
        }
        // Partitions that left the layout take their history with them.
        highHistory = highHistory.filter { seen.contains($0.key) }
        sample.details["lag_seconds_basis"] = lowerBound
            ? "source high-watermark history (a lower bound: the DR side is behind everything observed since syncd started)"
            : "source high-watermark history"
        return worst
    }

    // MARK: control

    func requireHostedMirror(_ operation: SourceOperation) throws -> BuiltInMirror {
        guard let mirror else {
            let remedy = switch operation {
            case .pause: "pause the MirrorMaker 2 connector through Kafka Connect (PUT /connectors/NAME/pause)"
            case .resume: "resume the MirrorMaker 2 connector through Kafka Connect (PUT /connectors/NAME/resume)"
            default: "re-create the MirrorMaker 2 connector's offsets through Kafka Connect, or use mode: mirror"
            }
            throw SyncError.unsupported(operation: operation, reason: "'\(name)' is replicated by an external MirrorMaker 2, which syncd does not control", remedy: remedy)
        }
        guard mirror.isHosted else {
            throw SyncError.invalidState("the built-in mirror of '\(name)' runs inside the syncd daemon, not in this process; send the command to syncd (syncctl --url URL \(operation.rawValue) ...)")
        }
        return mirror
    }

    public func pause() async throws {
        let mirror = try requireHostedMirror(.pause)
        mirror.pause()
        try await Poll.until("the mirror to pause", every: .milliseconds(50), timeout: Self.confirmTimeout) { mirror.status.phase == .paused }
    }

    public func resume() async throws {
        let mirror = try requireHostedMirror(.resume)
        mirror.resume()
        try await Poll.until("the mirror to resume", every: .milliseconds(50), timeout: Self.confirmTimeout) { mirror.status.phase != .paused }
    }

    @discardableResult
    public func forceFullSync() async throws -> String {
        let mirror = try requireHostedMirror(.fullSync)
        try await mirror.startFresh()
        _ = try await waitForDrain(timeout: Self.fullSyncTimeout)
        return "the built-in mirror re-mirrored every partition from its earliest retained source offset into a fresh DR position and caught up"
    }

    public func waitForDrain(timeout: Duration) async throws -> DrainResult {
        let clock = ContinuousClock()
        let started = clock.now
        if let mirror, mirror.isPaused, mirror.isHosted {
            throw SyncError.invalidState("replication of '\(name)' is paused: the DR side cannot catch up; resume first")
        }
        let layout = try await layout()
        guard layout.problems.isEmpty else { throw SyncError.invalidState(layout.problems.joined(separator: "; ")) }
        let primary = try cluster(.primary)
        var targets: [TopicPartition: Int64] = [:]
        for topic in layout.topics {
            for partition in topic.sourcePartitions { targets[partition] = try await primary.watermarks(partition).high }
        }
        let total = targets.values.reduce(0, +)
        var remaining: Int64 = 0
        return try await Poll.first(timeout: timeout, timedOut: {
            "the DR side did not catch up within \(timeout.seconds) s: \(remaining) record(s) of the primary's position at the call are not mirrored yet"
        }) {
            let observation = try await observe(layout: layout)
            remaining = observation.partitions.reduce(Int64(0)) { sum, state in
                sum + max(0, (targets[state.source] ?? 0) - state.applied)
            }
            if remaining == 0 {
                return DrainResult(target: "\(total) record offset(s) over \(targets.count) partition(s)",
                                   reached: "all mirrored", waitedSeconds: (clock.now - started).seconds)
            }
            if let mirror, mirror.isPaused, mirror.isHosted {
                throw SyncError.invalidState("replication of '\(name)' was paused while waiting for drain; \(remaining) record(s) still to mirror")
            }
            return nil
        }
    }
}
