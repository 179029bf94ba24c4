import Testing
@testable import KafkaClient
@testable import KafkaSource
@testable import SyncCore

@Suite struct OffsetMappingTests {
    @Test func withoutSyncsOffsetsAreAssumedPreserved() {
        let mapping = PartitionMapping()
        #expect(mapping.drOffset(forSource: 42) == 42)
        #expect(mapping.sourcePosition(forDREnd: 7) == 7)
    }

    @Test func oneSyncMapsOneToOneFromItsPosition() {
        var mapping = PartitionMapping()
        mapping.record(upstream: 100, downstream: 5)
        #expect(mapping.drOffset(forSource: 99) == nil, "records before the mirror started are not mapped")
        #expect(mapping.drOffset(forSource: 100) == 5)
        #expect(mapping.drOffset(forSource: 130) == 35)
        #expect(mapping.sourcePosition(forDREnd: 5) == 100)
        #expect(mapping.sourcePosition(forDREnd: 20) == 115)
        #expect(mapping.sourcePosition(forDREnd: 2) == 100, "a DR end before the mapping starts means nothing mirrored yet")
    }

    @Test func aReMirrorSupersedesEverySyncAtOrAfterItsOffset() {
        var mapping = PartitionMapping()
        mapping.record(upstream: 0, downstream: 0)
        mapping.record(upstream: 50, downstream: 50)
        // Force full sync: offset 0 again, written after the 80 records already on the DR side.
        mapping.record(upstream: 0, downstream: 80)
        #expect(mapping.syncs.count == 1)
        #expect(mapping.firstDownstream == 80)
        #expect(mapping.drOffset(forSource: 60) == 140)
        #expect(mapping.sourcePosition(forDREnd: 100) == 20)
    }

    @Test func laterSyncsOfMirrorMakerRefineTheMapping() {
        var mapping = PartitionMapping()
        mapping.record(upstream: 0, downstream: 0)
        // A transaction marker upstream: offset 11 is record 10 downstream.
        mapping.record(upstream: 11, downstream: 10)
        #expect(mapping.drOffset(forSource: 5) == 5)
        #expect(mapping.drOffset(forSource: 15) == 14)
        #expect(mapping.sourcePosition(forDREnd: 10) == 11)
        #expect(mapping.sourcePosition(forDREnd: 12) == 13)
        #expect(mapping.sourcePosition(forDREnd: 9) == 9)
    }

    @Test func theLogAppliesSyncsPerPartition() throws {
        var log = OffsetSyncLog()
        log.apply(OffsetSync(topic: "a", partition: 0, upstreamOffset: 10, downstreamOffset: 0))
        log.apply(OffsetSync(topic: "a", partition: 1, upstreamOffset: 0, downstreamOffset: 3))
        #expect(log.mapping(TopicPartition("a", 0)).drOffset(forSource: 12) == 2)
        #expect(log.mapping(TopicPartition("a", 1)).drOffset(forSource: 0) == 3)
        #expect(log.mapping(TopicPartition("b", 0)).isEmpty)
        #expect(log.recordsRead == 2)
    }

    @Test func encodedSyncsDecodeToThemselves() throws {
        let sync = OffsetSync(topic: "orders.eu", partition: 17, upstreamOffset: 9_000_000_000, downstreamOffset: -1)
        #expect(sync.encodedKey == StructBytes.string("orders.eu") + StructBytes.int32(17))
        #expect(sync.encodedValue == StructBytes.int64(9_000_000_000) + StructBytes.int64(-1))
        #expect(try OffsetSync.decode(key: sync.encodedKey, value: sync.encodedValue) == sync)
    }
}

@Suite struct DigestTests {
    func digest(_ fields: [[UInt8]?]) -> UInt64 {
        var hasher = RecordHasher()
        for field in fields {
            if let field { field.withUnsafeBytes { hasher.add(field: $0) } } else { hasher.add(field: nil) }
        }
        return hasher.digest
    }

    @Test func nullEmptyAndShiftedFieldsDiffer() {
        let digests: Set<UInt64> = [
            digest([nil, [1]]), digest([[], [1]]), digest([[1], nil]), digest([[1], []]),
            digest([[1, 2], [3]]), digest([[1], [2, 3]]), digest([[1, 2, 3], nil]),
        ]
        #expect(digests.count == 7)
        #expect(digest([[1, 2], [3]]) == digest([[1, 2], [3]]))
    }

    @Test func bisectionFindsExactlyTheDifferingPositions() {
        let left: [UInt64] = Array(0..<1000)
        var right = left
        for index in [0, 3, 511, 999] { right[index] &+= 1 }
        #expect(DigestBisection.differingIndices(left, right) == [0, 3, 511, 999])
        #expect(DigestBisection.differingIndices(left, right, limit: 2) == [0, 3])
        #expect(DigestBisection.differingIndices(left, left).isEmpty)
        #expect(DigestBisection.rangeHash(left[...]) != DigestBisection.rangeHash(right[...]))
        // Swapped records are a difference, not an equal multiset.
        var swapped = left
        swapped.swapAt(10, 11)
        #expect(DigestBisection.differingIndices(left, swapped) == [10, 11])
    }
}

@Suite struct CheckPlanTests {
    func state(sourceLow: Int64 = 0, sourceHigh: Int64, drLow: Int64 = 0, drHigh: Int64, syncs: [(Int64, Int64)] = []) -> KafkaSource.PartitionState {
        var mapping = PartitionMapping()
        for (upstream, downstream) in syncs { mapping.record(upstream: upstream, downstream: downstream) }
        return KafkaSource.PartitionState(source: TopicPartition("t", 0), dr: TopicPartition("t", 0), sourceLow: sourceLow, sourceHigh: sourceHigh,
                                          drLow: drLow, drHigh: drHigh, mapping: mapping)
    }

    @Test func aLaggingDRSideHasAMissingTail() {
        let plan = KafkaChecker.plan(state(sourceHigh: 100, drHigh: 90), end: 100)
        #expect(plan.missing == 10 && plan.missingFrom == 90)
        #expect(plan.extra == 0)
        #expect(plan.primaryRecords == 100 && plan.drRecords == 90)
    }

    @Test func extraDRRecordsAreCountedFromWhereTheSourceEnds() {
        let plan = KafkaChecker.plan(state(sourceHigh: 100, drHigh: 110, syncs: [(0, 5)]), end: 100)
        #expect(plan.missing == 0)
        #expect(plan.extra == 5 && plan.extraFrom == 105)
        #expect(plan.drRecords == 105)
    }

    @Test func recordsBeforeTheMappingOrBeyondDRRetentionAreNotCompared() {
        // The mirror started at source offset 40.
        let late = KafkaChecker.plan(state(sourceHigh: 100, drHigh: 60, syncs: [(40, 0)]), end: 100)
        #expect(late.start == 40 && late.primaryRecords == 60 && late.missing == 0)
        // The DR side's retention already dropped its first 30 records; identity offsets.
        let expired = KafkaChecker.plan(state(sourceHigh: 100, drLow: 30, drHigh: 100), end: 100)
        #expect(expired.start == 30 && expired.skipped == 30 && expired.missing == 0)
        // Source retention dropped records: they cannot be compared or mirrored.
        let sourceExpired = KafkaChecker.plan(state(sourceLow: 50, sourceHigh: 100, drHigh: 100), end: 100)
        #expect(sourceExpired.start == 50 && sourceExpired.primaryRecords == 50)
    }
}

@Suite struct TopicLayoutTests {
    let options = KafkaOptions(mode: .mirrormaker2, topicPattern: "orders.*", sourceName: "s")

    @Test func patternSelectsNonInternalTopicsAndNamesFollowThePolicy() {
        let layout = TopicLayout.resolve(options: options, mapping: .mirrorMaker(sourceAlias: "east"),
                                         primary: ["orders": 3, "orders-eu": 2, "payments": 1, "__consumer_offsets": 50],
                                         dr: ["east.orders": 3, "east.orders-eu": 2], primaryLabel: "primary", drLabel: "DR")
        #expect(layout.topics.map(\.dr) == ["east.orders", "east.orders-eu"])
        #expect(layout.problems.isEmpty)
    }

    @Test func missingTopicsAndPartitionMismatchesAreProblems() {
        let listed = KafkaOptions(mode: .mirror, topics: ["a", "b", "c"], sourceName: "s")
        let layout = TopicLayout.resolve(options: listed, mapping: .identity, primary: ["a": 3, "b": 2], dr: ["a": 2],
                                         primaryLabel: "primary", drLabel: "DR")
        #expect(layout.topics.isEmpty)
        #expect(layout.problems.count == 3)
        #expect(layout.problems[0].contains("partition count mismatch"))
        #expect(layout.problems[1].contains("'b'") && layout.problems[1].contains("does not exist on the DR"))
        #expect(layout.problems[2].contains("'c' does not exist on the primary"))
    }
}
