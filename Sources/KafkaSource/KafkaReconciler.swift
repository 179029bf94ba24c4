import Foundation
import KafkaClient
import SyncCore

/// Reconciliation on an append-only log: the only repair possible in place is appending the
/// missing tail of a partition. Records that differ in the middle, or extra DR records, need a
/// fresh DR position (force full sync).
extension KafkaSource {
    public func planReconcile(from check: CheckResult) async throws -> ReconcilePlan {
        let withDifferences = Set(check.tables.filter { $0.missing + $0.changed + $0.extra > 0 }.map(\.table.byteKey))
        var layout = try await layout()
        layout.topics = layout.topics.filter { withDifferences.contains($0.source.byteKey) }
        let observation = try await observe(layout: layout)
        var batches: [ReconcileBatch] = []
        var notes: [String] = []
        for topic in layout.topics {
            var ranges: [JSONValue] = []
            var statements: [String] = []
            for state in observation.partitions where state.source.topic.sameBytes(as: topic.source) {
                let from = max(state.mirroredUpTo, state.sourceLow)
                guard from < state.sourceHigh else { continue }
                ranges.append(.object(["topic": .string(topic.source), "partition": .number(Double(state.source.partition)),
                                       "from": .number(Double(from)), "to": .number(Double(state.sourceHigh))]))
                statements.append("re-mirror \(state.source) offsets \(from)..\(state.sourceHigh - 1) (\(state.sourceHigh - from) record(s)) to DR \(state.dr) from offset \(state.drHigh)")
            }
            if !ranges.isEmpty {
                batches.append(ReconcileBatch(table: topic.source, number: batches.count + 1, upsertKeys: ranges, deleteKeys: [], statements: statements))
            }
        }
        for table in check.tables where table.changed + table.extra > 0 {
            notes.append("\(table.table): \(table.changed) changed and \(table.extra) extra record(s) cannot be repaired in place on an append-only log; force a full sync (syncctl resync --source \(name)) to re-mirror into a fresh DR position")
        }
        if batches.isEmpty, notes.isEmpty { notes.append("nothing to re-mirror: every partition's DR side holds the source's records up to its end") }
        if options.mode == .mirrormaker2, !batches.isEmpty {
            notes.append("MirrorMaker 2 copies these tails itself: applying is refused so that its own copies do not duplicate them; wait for drain")
        }
        notes.append("tails run to each partition's end at planning time; apply copies only what the DR side still lacks, so re-running it never duplicates records")
        return ReconcilePlan(source: name, basedOnCheck: check.finishedAt, batches: batches, notes: notes, words: .kafka)
    }

    public func applyReconcile(_ plan: ReconcilePlan) async throws -> ReconcileOutcome {
        let started = Date()
        guard options.mode == .mirror, let mirror else {
            throw SyncError.unsupported(operation: .reconcile, reason: "'\(name)' is replicated by an external MirrorMaker 2; records syncd appends would be duplicated when the connector copies them",
                                        remedy: "wait for drain (MirrorMaker 2 copies missing tails itself), or restart the connector")
        }
        guard mirror.isHosted else {
            throw SyncError.invalidState("the built-in mirror of '\(name)' runs inside the syncd daemon, not in this process; send the reconcile to syncd (syncctl --url URL reconcile --apply ...) so the mirror and the repair do not both append")
        }
        // The mirror is held still while the tails are appended, then resumes from the new DR end.
        let wasPaused = mirror.isPaused
        try await pause()
        defer {
            mirror.restart()
            if !wasPaused { mirror.resume() }
        }
        let writer: KafkaWriter
        let reader: KafkaRangeReader
        do {
            writer = try KafkaWriter(settings: KafkaClientSettings(endpoint: config.dr, clientID: "syncd-reconcile"), label: describeSide(.dr, config.dr),
                                     batchSize: options.batchSize, compression: options.compression)
            reader = try KafkaRangeReader(settings: KafkaClientSettings(endpoint: config.primary, clientID: "syncd-reconcile"), label: describeSide(.primary, config.primary))
        } catch let error as KafkaError {
            throw SyncError.failed(error.message)
        }
        let layout = try await layout()
        var copied = 0
        var applied = 0
        var touched: [(TopicPartition, Int64)] = []
        for batch in plan.batches {
            guard let topic = layout.topics.first(where: { $0.source == batch.table }) else {
                throw SyncError.invalidState("topic '\(batch.table)' of the plan is no longer mirrored (\(layout.problems.joined(separator: "; ")))")
            }
            for range in batch.upsertKeys {
                guard case let .object(fields) = range, case let .number(partitionNumber)? = fields["partition"], case let .number(toNumber)? = fields["to"] else {
                    throw SyncError.invalidState("the plan's range \(range) is not a {topic, partition, from, to} object")
                }
                let partition = TopicPartition(topic.source, Int32(partitionNumber))
                // Re-read where the DR side is now: what it already holds is not copied again.
                let state = try await observe(layout: TopicLayout(topics: [topic], problems: [])).partitions.first { $0.source == partition }!
                let from = max(state.mirroredUpTo, state.sourceLow)
                let to = min(Int64(toNumber), state.sourceHigh)
                guard from < to else { continue }
                // Always: after a transaction the mapping points past a commit marker that a
                // cluster may not have written, and these records land exactly at the DR end.
                try await recordSync(OffsetSync(topic: partition.topic, partition: partition.partition, upstreamOffset: from, downstreamOffset: state.drHigh), writer: writer)
                let drTopic = topic.dr
                do {
                    copied += try await reader.copy(partition, from: from, to: to, into: drTopic, through: writer)
                } catch let error as KafkaError {
                    throw SyncError.failed(error.message)
                }
                touched.append((partition, to))
            }
            applied += 1
        }
        // Re-verify what was touched: the copied tails must now equal the source.
        var stillDiffering = 0
        if !touched.isEmpty {
            let checker = try KafkaChecker(config: config)
            let observation = try await observe(layout: layout)
            for (partition, end) in touched {
                guard let state = observation.partitions.first(where: { $0.source == partition }) else { continue }
                var plan = KafkaChecker.plan(state, end: end)
                plan = try await checker.compare(plan, maxOffsets: 0) { _ in }
                stillDiffering += Int(plan.missing + plan.changed)
            }
        }
        return ReconcileOutcome(source: name, batchesApplied: applied, rowsUpserted: copied, rowsDeleted: 0, stillDiffering: stillDiffering,
                                durationSeconds: Date().timeIntervalSince(started))
    }

    func recordSync(_ sync: OffsetSync, writer: KafkaWriter) async throws {
        let topic = options.offsetSyncsTopic
        do {
            try await writer.produceAndFlush([sync.record(in: topic)])
        } catch let error as KafkaError {
            throw SyncError.failed(error.message)
        }
    }
}
