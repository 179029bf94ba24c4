import Foundation
import KafkaClient
import SyncCore

/// Where the records of one source partition sit in its DR partition, from offset syncs
/// (upstream U was written downstream at D). Between syncs records map one to one, which is what
/// both MirrorMaker 2 and the built-in mirror do for ordinary records.
public struct PartitionMapping: Sendable, Equatable {
    /// Live syncs, ascending by upstream offset.
    public private(set) var syncs: [(upstream: Int64, downstream: Int64)] = []

    public init() {}

    /// The last two syncs recorded, compacted or not (the latest last): a resume counts from these,
    /// so it reads one transaction's records, not everything since the last sync kept.
    public private(set) var recent: [(upstream: Int64, downstream: Int64)] = []

    public static func == (lhs: PartitionMapping, rhs: PartitionMapping) -> Bool {
        lhs.syncs.map(\.upstream) == rhs.syncs.map(\.upstream) && lhs.syncs.map(\.downstream) == rhs.syncs.map(\.downstream)
    }

    /// Applies syncs in the order they were written: a sync supersedes every earlier one at or
    /// after its upstream offset (a re-mirror from offset U replaces what was written for U and later).
    /// A sync the previous one already implies (same distance between the offsets) is not kept, so
    /// a mirror that writes a sync per transaction grows the mapping only where offsets really
    /// shift (transaction markers, re-mirrors).
    public mutating func record(upstream: Int64, downstream: Int64) {
        recent = Array((recent.filter { $0.upstream < upstream } + [(upstream, downstream)]).suffix(2))
        syncs.removeAll { $0.upstream >= upstream }
        if let last = syncs.last, downstream - upstream == last.downstream - last.upstream { return }
        syncs.append((upstream, downstream))
    }

    /// Drops the syncs only records before `sourceLow` need (gone from the source's retention,
    /// never compared again), keeping the one that maps `sourceLow` itself.
    public mutating func prune(before sourceLow: Int64) {
        guard let keep = syncs.lastIndex(where: { $0.upstream <= sourceLow }), keep > 0 else { return }
        syncs.removeFirst(keep)
    }

    public var isEmpty: Bool { syncs.isEmpty }

    /// The first source offset the mapping covers (records before it were never mirrored).
    public var firstUpstream: Int64? { syncs.first?.upstream }

    /// The first DR offset of the live mapping (DR records before it are superseded by a re-mirror).
    public var firstDownstream: Int64? { syncs.first?.downstream }

    /// The DR offset a source record maps to; nil before the mapping starts.
    /// With no syncs at all, offsets are assumed preserved (identity).
    public func drOffset(forSource offset: Int64) -> Int64? {
        guard !syncs.isEmpty else { return offset }
        guard let sync = syncs.last(where: { $0.upstream <= offset }) else { return nil }
        return sync.downstream + (offset - sync.upstream)
    }

    /// The next source offset to mirror when the DR partition ends at `drEnd`: the source offset
    /// whose record would land at `drEnd`. With no syncs, offsets are assumed preserved.
    public func sourcePosition(forDREnd drEnd: Int64) -> Int64 {
        guard !syncs.isEmpty else { return drEnd }
        guard let anchor = anchor(forDREnd: drEnd) else { return syncs[0].upstream }
        return min(anchor.upstream + (drEnd - anchor.downstream), anchor.nextUpstream)
    }

    /// Where a resume counts from: the most recent sync the DR end has reached (see `recent`), or
    /// else `anchor(forDREnd:)`.
    public func resumeAnchor(forDREnd drEnd: Int64) -> (upstream: Int64, downstream: Int64, nextUpstream: Int64)? {
        guard let sync = recent.reversed().first(where: { $0.downstream <= drEnd }) else { return anchor(forDREnd: drEnd) }
        return (sync.upstream, sync.downstream, nextUpstream(after: sync.upstream))
    }

    /// The sync written last downstream that a DR end has reached, and the upstream offset of the
    /// sync after it (Int64.max if none): the DR records from the anchor's downstream offset on are
    /// source records from its upstream offset on. Nil when the DR end is before every sync.
    public func anchor(forDREnd drEnd: Int64) -> (upstream: Int64, downstream: Int64, nextUpstream: Int64)? {
        guard let sync = syncs.filter({ $0.downstream <= drEnd }).max(by: { $0.downstream < $1.downstream }) else { return nil }
        return (sync.upstream, sync.downstream, nextUpstream(after: sync.upstream))
    }

    /// The upstream offset of the first live sync after `upstream` (Int64.max if none).
    func nextUpstream(after upstream: Int64) -> Int64 {
        syncs.first(where: { $0.upstream > upstream })?.upstream ?? Int64.max
    }
}

/// Every partition's mapping, built from the offset-sync records of one topic.
public struct OffsetSyncLog: Sendable {
    public private(set) var mappings: [TopicPartition: PartitionMapping] = [:]
    public private(set) var recordsRead = 0
    public private(set) var undecodable = 0

    public init() {}

    public mutating func apply(_ sync: OffsetSync) {
        recordsRead += 1
        mappings[TopicPartition(sync.topic, sync.partition), default: PartitionMapping()]
            .record(upstream: sync.upstreamOffset, downstream: sync.downstreamOffset)
    }

    public mutating func countUndecodable() { undecodable += 1 }

    public func mapping(_ partition: TopicPartition) -> PartitionMapping {
        mappings[partition] ?? PartitionMapping()
    }

    /// Bounds memory by the source's retention: see `PartitionMapping.prune(before:)`.
    public mutating func prune(_ partition: TopicPartition, before sourceLow: Int64) {
        mappings[partition]?.prune(before: sourceLow)
    }
}

/// The offset syncs one mirror transaction writes, per partition it touched, inside the same
/// transaction: where its first record landed (exact, from the delivery report), and where the next
/// record lands after the commit marker that follows its last one. Read committed, the second makes
/// the DR end map to the exact source position after the transaction; the first corrects the
/// second wherever no marker was written (a cluster without markers, an aborted transaction
/// between).
public enum TransactionSyncs {
    public static func syncs(for spans: [DeliveredSpan]) -> [OffsetSync] {
        // In topic (by bytes) and partition order, so a transaction's syncs read back predictably.
        spans.sorted { ($0.topic.byteKey, $0.partition) < ($1.topic.byteKey, $1.partition) }.flatMap { span in
                [OffsetSync(topic: span.topic, partition: span.partition, upstreamOffset: span.firstTag, downstreamOffset: span.firstOffset),
                 OffsetSync(topic: span.topic, partition: span.partition, upstreamOffset: span.lastTag + 1, downstreamOffset: span.lastOffset + 2)]
            }
    }
}
