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

    public static func == (lhs: PartitionMapping, rhs: PartitionMapping) -> Bool {
        lhs.syncs.map(\.upstream) == rhs.syncs.map(\.upstream) && lhs.syncs.map(\.downstream) == rhs.syncs.map(\.downstream)
    }

    /// Applies syncs in the order they were written: a sync supersedes every earlier one at or
    /// after its upstream offset (a re-mirror from offset U replaces what was written for U and later).
    public mutating func record(upstream: Int64, downstream: Int64) {
        syncs.removeAll { $0.upstream >= upstream }
        syncs.append((upstream, downstream))
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
        // The sync written last downstream that the DR end has reached.
        guard let sync = syncs.filter({ $0.downstream <= drEnd }).max(by: { $0.downstream < $1.downstream }) else {
            return syncs[0].upstream
        }
        let next = syncs.first(where: { $0.upstream > sync.upstream })?.upstream ?? Int64.max
        return min(sync.upstream + (drEnd - sync.downstream), next)
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
}
