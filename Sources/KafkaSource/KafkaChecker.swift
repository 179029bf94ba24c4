import Foundation
import KafkaClient
import SyncCore

/// What one partition's comparison found; offsets are source offsets unless named DR.
struct PartitionComparison: Sendable {
    var state: KafkaSource.PartitionState
    /// Source range compared: [start, end).
    var start: Int64
    var end: Int64
    /// Source records of the range that were never on the DR side (before the mirror started, or
    /// expired from the DR side's retention) and so not compared.
    var skipped: Int64 = 0
    var primaryRecords: Int64 = 0
    var drRecords: Int64 = 0
    var changedOffsets: [(source: Int64, dr: Int64)] = []
    var changed: Int64 = 0
    /// Source offsets from here to `end` are not on the DR side.
    var missingFrom: Int64
    var missing: Int64 { max(0, end - missingFrom) }
    /// DR offsets from here to the DR end are beyond what the source range maps to.
    var extraFrom: Int64 = 0
    /// The DR range that holds the compared records: [drStart, drEnd).
    var drStart: Int64 = 0
    var drEnd: Int64 = 0
    var extra: Int64 = 0
    var chunks = 0

    var differing: Int64 { missing + extra + changed }
}

/// Count + hash check of Kafka partitions: both sides are read in mapped ranges (chunks of records
/// in parallel, one reader per cluster), each chunk's record-digest sequence is hashed, and unequal
/// chunks are bisected down to the differing records.
struct KafkaChecker {
    let primaryReader: KafkaRangeReader
    let drReader: KafkaRangeReader
    static let chunkSize = 50_000

    /// A reader of its own on each cluster, so both sides are read at once.
    init(config: SourceConfig) throws {
        primaryReader = try KafkaRangeReader(settings: KafkaClientSettings(endpoint: config.primary, clientID: "syncd-check"),
                                             label: describeSide(.primary, config.primary))
        drReader = try KafkaRangeReader(settings: KafkaClientSettings(endpoint: config.dr, clientID: "syncd-check"),
                                        label: describeSide(.dr, config.dr))
    }

    /// Where the comparison of a partition starts and what the DR side must hold for it. DR ends
    /// come from the mapping (the offset after the last record's), never from a record count: a
    /// transaction marker takes an offset but holds no record.
    static func plan(_ state: KafkaSource.PartitionState, end: Int64) -> PartitionComparison {
        let mapping = state.mapping
        var start = max(state.sourceLow, mapping.firstUpstream ?? state.sourceLow)
        var skipped: Int64 = 0
        let liveDRLow = max(state.drLow, mapping.firstDownstream ?? state.drLow)
        if let drStart = mapping.drOffset(forSource: start), drStart < liveDRLow {
            // Gone from the DR side's retention (or superseded by a re-mirror): not comparable.
            let gone = min(liveDRLow - drStart, max(0, end - start))
            skipped = gone
            start += gone
        }
        start = min(start, end)
        let drStart = mapping.drOffset(forSource: start) ?? state.drHigh
        let comparableEnd = min(end, max(start, state.mirroredUpTo))
        func drEnd(after sourceEnd: Int64) -> Int64 {
            sourceEnd > start ? (mapping.drOffset(forSource: sourceEnd - 1) ?? drStart) + 1 : drStart
        }
        var comparison = PartitionComparison(state: state, start: start, end: end, skipped: skipped, missingFrom: comparableEnd)
        comparison.drStart = drStart
        comparison.drEnd = drEnd(after: comparableEnd)
        let expectedDREnd = drEnd(after: end)
        comparison.extraFrom = expectedDREnd
        comparison.extra = max(0, min(state.drHigh - expectedDREnd, state.mirroredUpTo - end))
        comparison.primaryRecords = end - start
        comparison.drRecords = (comparableEnd - start) + comparison.extra
        return comparison
    }

    /// Reads both sides of the comparable range chunk by chunk and bisects unequal chunks.
    func compare(_ plan: PartitionComparison, maxOffsets: Int, progress: @Sendable (Int64) -> Void) async throws -> PartitionComparison {
        var result = plan
        let state = plan.state
        var sourceNext = plan.start
        var drNext = plan.drStart
        let sourceEnd = plan.missingFrom
        let drEnd = plan.drEnd
        while sourceNext < sourceEnd {
            let (sourceFrom, drFrom) = (sourceNext, drNext)
            async let sourceChunk = Self.readChunk(primaryReader, state.source, from: sourceFrom, to: sourceEnd)
            async let drChunk = Self.readChunk(drReader, state.dr, from: drFrom, to: drEnd)
            let (lhs, rhs) = try await (sourceChunk, drChunk)
            result.chunks += 1
            let paired = min(lhs.digests.count, rhs.digests.count)
            if lhs.digests.count != rhs.digests.count {
                // Offsets without records on one side only (compaction, transaction markers): the
                // unpaired tail of this chunk counts as changed, never as equal.
                result.changed += Int64(abs(lhs.digests.count - rhs.digests.count))
            }
            let left = Array(lhs.digests.prefix(paired))
            let right = Array(rhs.digests.prefix(paired))
            if DigestBisection.rangeHash(left[...]) != DigestBisection.rangeHash(right[...]) {
                let indices = DigestBisection.differingIndices(left, right)
                result.changed += Int64(indices.count)
                for index in indices where result.changedOffsets.count < maxOffsets {
                    result.changedOffsets.append((lhs.offsets[index], rhs.offsets[index]))
                }
            }
            progress(Int64(lhs.digests.count + rhs.digests.count))
            guard lhs.next > sourceNext || rhs.next > drNext else { break }
            sourceNext = lhs.next
            drNext = rhs.next
        }
        return result
    }

    struct Chunk: Sendable {
        var digests: [UInt64]
        var offsets: [Int64]
        var next: Int64
    }

    static func readChunk(_ reader: KafkaRangeReader, _ partition: TopicPartition, from: Int64, to: Int64) async throws -> Chunk {
        do {
            var empty = Chunk(digests: [], offsets: [], next: from)
            empty.digests.reserveCapacity(min(chunkSize, Int(max(0, to - from))))
            empty.offsets.reserveCapacity(empty.digests.capacity)
            var (chunk, next) = try await reader.read(partition, from: from, to: to, limit: chunkSize, into: empty) { chunk, record in
                chunk.digests.append(record.digest)
                chunk.offsets.append(record.offset)
            }
            chunk.next = next
            return chunk
        } catch let error as KafkaError {
            throw SyncError.failed(error.message)
        }
    }
}

extension KafkaSource {
    public func check(_ checkOptions: CheckOptions, progress: @escaping @Sendable (CheckProgress) -> Void) async throws -> CheckResult {
        var strategy = KafkaCheck(source: self, config: config, options: options, checkOptions: checkOptions)
        var result = try await CheckEngine.run(&strategy, source: name, threshold: config.policy.ratioThreshold, options: checkOptions, progress: progress)
        if checkOptions.tables == nil, result.error == nil {
            let groups = try await compareConsumerGroups()
            result.addBlocking(groups.diffs.filter { !($0.detail ?? "").contains("(warning)") }, reasons: groups.blockers)
            result.diffs += groups.diffs.filter { ($0.detail ?? "").contains("(warning)") }
            result.notes += groups.warnings.map { "warning: \($0)" } + groups.notes
        }
        return result
    }

    /// Waits (up to `timeout`) until the DR side holds every record up to each compared range's end,
    /// and gives up at once when it cannot progress (paused mirror, position unchanged over 3 polls).
    func waitForCatchUp(_ comparisons: [PartitionComparison], timeout: Duration) async -> CatchUpOutcome {
        var watch = CatchUpWatch(pollIntervalSeconds: config.pollIntervalSeconds)
        let ends = Dictionary(comparisons.map { ($0.state.source, $0.end) }, uniquingKeysWith: max)
        do {
            return try await Poll.first(every: .milliseconds(200), timeout: timeout, timedOut: { "" }) { () -> CatchUpOutcome? in
                if let mirror, mirror.isHosted, mirror.isPaused { return .cannotProgress("the built-in mirror is paused, so the DR side cannot catch up") }
                let compared = try await observe().partitions.filter { ends[$0.source] != nil }
                if !compared.contains(where: { $0.applied < (ends[$0.source] ?? 0) }) { return .caughtUp }
                return watch.stalled(at: compared.map(\.drHigh)) ? .cannotProgress(watch.stallNote) : nil
            }
        } catch {
            // The whole wait passed (or the clusters could not be read): the round re-reads what it can.
            return .timedOut
        }
    }
}
