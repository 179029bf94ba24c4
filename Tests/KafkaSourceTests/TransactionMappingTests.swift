import Testing
@testable import KafkaClient
@testable import KafkaSource
@testable import SyncCore

/// The mirror's transactional offset mapping, on a partition log laid out by hand: where Kafka
/// writes a commit marker after each transaction (a real cluster) and where it writes none
/// (librdkafka's mock cluster), and with a fenced writer's aborted transaction in between.
@Suite struct TransactionMappingTests {
    /// One transaction of the mirror to partition t[0]: `count` source records from `source`, the
    /// first written at DR offset `dr`; the syncs it writes before its commit.
    func transaction(source: Int64, dr: Int64, count: Int64) -> [OffsetSync] {
        TransactionSyncs.syncs(for: [DeliveredSpan(topic: "t", partition: 0, firstTag: source, firstOffset: dr,
                                                   lastTag: source + count - 1, lastOffset: dr + count - 1)])
    }

    func mapping(_ syncs: [OffsetSync]) -> PartitionMapping {
        var log = OffsetSyncLog()
        syncs.forEach { log.apply($0) }
        return log.mapping(TopicPartition("t", 0))
    }

    @Test func eachTransactionRecordsWhereItsFirstRecordLandedAndWhereTheNextWill() {
        let spans = [DeliveredSpan(topic: "u", partition: 1, firstTag: 7, firstOffset: 3, lastTag: 9, lastOffset: 5),
                     DeliveredSpan(topic: "t", partition: 2, firstTag: 0, firstOffset: 0, lastTag: 0, lastOffset: 0)]
        #expect(TransactionSyncs.syncs(for: spans) == [
            OffsetSync(topic: "t", partition: 2, upstreamOffset: 0, downstreamOffset: 0),
            OffsetSync(topic: "t", partition: 2, upstreamOffset: 1, downstreamOffset: 2),
            OffsetSync(topic: "u", partition: 1, upstreamOffset: 7, downstreamOffset: 3),
            OffsetSync(topic: "u", partition: 1, upstreamOffset: 10, downstreamOffset: 7),
        ])
    }

    @Test func withCommitMarkersTheDREndAndTheComparedRangesFollowTheMarkers() {
        // Source 0..9 at DR 0..9, marker 10; source 10..19 at DR 11..20, marker 21.
        let mapping = mapping(transaction(source: 0, dr: 0, count: 10) + transaction(source: 10, dr: 11, count: 10))
        #expect(mapping.sourcePosition(forDREnd: 11) == 10, "the end after the first commit")
        #expect(mapping.sourcePosition(forDREnd: 22) == 20, "the end after the second commit: markers are not records")
        #expect(mapping.drOffset(forSource: 9) == 9)
        #expect(mapping.drOffset(forSource: 10) == 11)
        #expect(mapping.drOffset(forSource: 19) == 20)
        let anchor = mapping.resumeAnchor(forDREnd: 22)
        #expect(anchor?.upstream == 20 && anchor?.downstream == 22, "a resume counts from the last transaction's end: nothing to read")

        let state = KafkaSource.PartitionState(source: TopicPartition("t", 0), dr: TopicPartition("t", 0), sourceLow: 0, sourceHigh: 20,
                                               drLow: 0, drHigh: 22, mapping: mapping)
        let plan = KafkaChecker.plan(state, end: 20)
        #expect(plan.missing == 0 && plan.extra == 0, "the trailing commit marker is not an extra record")
        #expect(plan.drStart == 0 && plan.drEnd == 21)
        #expect(plan.primaryRecords == 20 && plan.drRecords == 20)
    }

    @Test func withoutMarkersTheSameSyncsMapOneToOneAndCompact() {
        // The mock cluster: no markers, so the second transaction starts right after the first.
        let mapping = mapping(transaction(source: 0, dr: 0, count: 10) + transaction(source: 10, dr: 10, count: 10))
        #expect(mapping.sourcePosition(forDREnd: 10) == 10)
        #expect(mapping.sourcePosition(forDREnd: 20) == 20)
        #expect(mapping.drOffset(forSource: 15) == 15)
        #expect(mapping.syncs.count == 2, "the second start is implied by the first; only the last end is kept: \(mapping.syncs)")
        let anchor = mapping.resumeAnchor(forDREnd: 20)
        #expect(anchor?.upstream == 10 && anchor?.downstream == 10 && anchor?.nextUpstream == 20,
                "a resume counts the last transaction's records (the end sync's offset was never written)")

        let state = KafkaSource.PartitionState(source: TopicPartition("t", 0), dr: TopicPartition("t", 0), sourceLow: 0, sourceHigh: 25,
                                               drLow: 0, drHigh: 20, mapping: mapping)
        let plan = KafkaChecker.plan(state, end: 25)
        #expect(plan.missingFrom == 20 && plan.missing == 5 && plan.extra == 0)
        #expect(plan.drEnd == 20)
    }

    @Test func anAbortedTransactionBetweenIsSkippedByTheNextWritersSyncs() {
        // Committed 0..9 at 0..9 (marker 10); a fenced writer's aborted records at 11..15 and its
        // abort marker at 16; the new leader mirrors source 10..19 at 17..26 (marker 27).
        let first = transaction(source: 0, dr: 0, count: 10)
        let before = mapping(first)
        // Before the new leader's first commit, arithmetic from the DR end counts the aborted
        // offsets as records: this is why a resume counts committed records instead, and why the
        // new leader records a correcting sync at once.
        #expect(before.sourcePosition(forDREnd: 17) == 16)
        #expect(before.resumeAnchor(forDREnd: 17)?.upstream == 10 && before.resumeAnchor(forDREnd: 17)?.downstream == 11)
        let corrected = mapping(first + [OffsetSync(topic: "t", partition: 0, upstreamOffset: 10, downstreamOffset: 17)])
        #expect(corrected.sourcePosition(forDREnd: 17) == 10)

        let after = mapping(first + [OffsetSync(topic: "t", partition: 0, upstreamOffset: 10, downstreamOffset: 17)]
            + transaction(source: 10, dr: 17, count: 10))
        #expect(after.drOffset(forSource: 9) == 9)
        #expect(after.drOffset(forSource: 10) == 17)
        #expect(after.sourcePosition(forDREnd: 28) == 20)
        let state = KafkaSource.PartitionState(source: TopicPartition("t", 0), dr: TopicPartition("t", 0), sourceLow: 0, sourceHigh: 20,
                                               drLow: 0, drHigh: 28, mapping: after)
        let plan = KafkaChecker.plan(state, end: 20)
        #expect(plan.missing == 0 && plan.extra == 0 && plan.drEnd == 27)
    }

    @Test func theMappingIsBoundedByTheSourcesRetention() {
        // A real cluster: every transaction's start shifts by its marker, so each one is kept...
        var syncs: [OffsetSync] = []
        for index in Int64(0)..<1000 { syncs += transaction(source: index * 10, dr: index * 11, count: 10) }
        var log = OffsetSyncLog()
        syncs.forEach { log.apply($0) }
        let partition = TopicPartition("t", 0)
        #expect(log.mapping(partition).syncs.count == 1001)
        // ...until the source's retention drops the records they map.
        log.prune(partition, before: 9_995)
        let pruned = log.mapping(partition)
        #expect(pruned.syncs.count == 2)
        #expect(pruned.drOffset(forSource: 9_995) == 10_994)
        #expect(pruned.sourcePosition(forDREnd: 11_000) == 10_000)
        #expect(pruned.firstUpstream == 9_990)
    }
}
