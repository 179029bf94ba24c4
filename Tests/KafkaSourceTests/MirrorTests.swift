import Foundation
import Testing
@testable import KafkaSource
@testable import SyncCore
import TestSupport

extension KafkaClusters {
    @Suite struct MirrorTests {
        @Test("the built-in mirror copies records with key, value, headers and timestamp; lag grows while paused and drains after resume")
        func mirrorPauseResumeDrain() async throws {
            let topic = TestKafka.unique("mirror")
            try await TestKafka.createTopic(.primary, topic, partitions: 3)
            try await TestKafka.createTopic(.dr, topic, partitions: 3)
            let old = Int64(Date().timeIntervalSince1970 * 1000) - 60_000
            for partition in Int32(0)..<3 {
                try await TestKafka.produce(.primary, topic, partition: partition, (0..<50).map {
                    TestKafka.record("k\($0)", "v\(partition)-\($0)", headers: ["trace": "t\($0)"], timestamp: old + Int64($0))
                })
            }
            // A null key and a null value stay null.
            try await TestKafka.produce(.primary, topic, partition: 0, [TestKafka.record(nil, nil, timestamp: old + 100)])

            let adapter = KafkaSource(config: try TestKafka.source(TestKafka.unique("mirror-src"), mode: .mirror, topics: [topic]))
            let background = Task { await adapter.runBackground() }
            defer { background.cancel() }

            #expect(try await eventually { let sample = await adapter.sample(); return sample.state == .inSync && sample.lagVolume == 0 })
            let sourceRecords = try await TestKafka.read(.primary, topic, partition: 0)
            let drRecords = try await TestKafka.read(.dr, topic, partition: 0)
            #expect(sourceRecords.count == 51)
            #expect(drRecords == sourceRecords)
            #expect(drRecords.last?.key == nil && drRecords.last?.value == nil)

            try await adapter.pause()
            #expect(await adapter.sample().state == .paused)
            try await TestKafka.produce(.primary, topic, partition: 1, (0..<40).map { TestKafka.record("p\($0)", "late") })
            let paused = await adapter.sample()
            #expect(paused.state == .paused)
            #expect(paused.lagVolume == 40)
            #expect(paused.details["partition \(topic)[1]"]?.hasPrefix("source 0..90, DR 0..50, behind 40") == true, "\(paused.details)")
            #expect(paused.details["partition \(topic)[0]"]?.contains("behind 0") == true)
            // Lag counts from when syncd first saw the source pass the DR end (record timestamps are
            // not used): at least one poll interval at once, and growing while nothing is mirrored.
            #expect((paused.lagSeconds ?? 0) >= TestKafka.pollInterval)
            #expect(try await eventually(timeout: .seconds(10), every: .milliseconds(200)) { (await adapter.sample().lagSeconds ?? 0) >= 1 })
            await #expect(throws: SyncError.self) { _ = try await adapter.waitForDrain(timeout: .seconds(5)) }
            #expect(try await TestKafka.highWatermark(.dr, topic, partition: 1) == 50)

            try await adapter.resume()
            let drained = try await adapter.waitForDrain(timeout: .seconds(30))
            #expect(drained.waitedSeconds >= 0)
            let after = await adapter.sample()
            #expect(after.lagVolume == 0)
            #expect(after.lagSeconds == 0)
            #expect(try await TestKafka.read(.dr, topic, partition: 1) == TestKafka.read(.primary, topic, partition: 1))
        }
    }
}

extension KafkaClusters.MirrorTests {
    @Test("reconcile: dry run changes nothing, apply appends the missing tail once, the re-check passes")
    func reconcileAppendsTheMissingTail() async throws {
        let topic = TestKafka.unique("rec")
        try await TestKafka.createTopic(.primary, topic, partitions: 2)
        try await TestKafka.createTopic(.dr, topic, partitions: 2)
        try await TestKafka.produce(.primary, topic, partition: 0, (0..<20).map { TestKafka.record("k\($0)", "v\($0)") })
        let adapter = KafkaSource(config: try TestKafka.source(TestKafka.unique("rec-src"), mode: .mirror, topics: [topic]))
        let background = Task { await adapter.runBackground() }
        defer { background.cancel() }
        _ = try await adapter.waitForDrain(timeout: .seconds(30))
        try await adapter.pause()
        try await TestKafka.produce(.primary, topic, partition: 1, (0..<30).map { TestKafka.record("late\($0)", "x", headers: ["a": "b"]) })

        let check = try await adapter.check(CheckOptions(rounds: 2, catchUpTimeout: .milliseconds(300))) { _ in }
        #expect(check.status == .fail)
        #expect(check.missing == 30 && check.changed == 0 && check.extra == 0, "\(check)")

        let plan = try await adapter.planReconcile(from: check)
        #expect(plan.batches.count == 1)
        #expect(plan.batches[0].statements == ["re-mirror \(topic)[1] offsets 0..29 (30 record(s)) to DR \(topic)[1] from offset 0"])
        #expect(try await TestKafka.highWatermark(.dr, topic, partition: 1) == 0, "planning writes nothing")

        let outcome = try await adapter.applyReconcile(plan)
        #expect(outcome.rowsUpserted == 30)
        #expect(outcome.stillDiffering == 0)
        #expect(outcome.status == .pass)
        let again = try await adapter.applyReconcile(plan)
        #expect(again.rowsUpserted == 0, "a second apply finds nothing left to copy")
        #expect(try await TestKafka.highWatermark(.dr, topic, partition: 1) == 30)
        #expect(await adapter.sample().state == .paused, "the mirror stays paused as it was")
        let recheck = try await adapter.check(CheckOptions(rounds: 1)) { _ in }
        #expect(recheck.status == .pass, "\(recheck)")
        #expect(try await TestKafka.read(.dr, topic, partition: 1) == TestKafka.read(.primary, topic, partition: 1))
    }

    @Test("force full sync re-mirrors from the earliest offset into a fresh DR position; the check maps to it")
    func forceFullSyncStartsAFreshPosition() async throws {
        let topic = TestKafka.unique("full")
        try await TestKafka.createTopic(.primary, topic, partitions: 1)
        try await TestKafka.createTopic(.dr, topic, partitions: 1)
        try await TestKafka.produce(.primary, topic, partition: 0, (0..<25).map { TestKafka.record("k\($0)", "v\($0)") })
        let adapter = KafkaSource(config: try TestKafka.source(TestKafka.unique("full-src"), mode: .mirror, topics: [topic]))
        let background = Task { await adapter.runBackground() }
        defer { background.cancel() }
        _ = try await adapter.waitForDrain(timeout: .seconds(30))
        #expect(try await TestKafka.highWatermark(.dr, topic, partition: 0) == 25)
        try await adapter.forceFullSync()
        #expect(try await TestKafka.highWatermark(.dr, topic, partition: 0) == 50, "every record again, after the old ones")
        let result = try await adapter.check(CheckOptions(rounds: 1)) { _ in }
        #expect(result.status == .pass, "\(result)")
        #expect(result.primaryRows == 25 && result.drRows == 25)
        let sample = await adapter.sample()
        #expect(sample.lagVolume == 0)
    }
}

extension KafkaClusters.MirrorTests {
    @Test("the mirror commits each transaction's records with their offset syncs; a new run resumes by counting committed records")
    func transactionsCarryTheirSyncsAndResumeCounts() async throws {
        let topic = TestKafka.unique("txn")
        try await TestKafka.createTopic(.primary, topic, partitions: 1)
        try await TestKafka.createTopic(.dr, topic, partitions: 1)
        try await TestKafka.produce(.primary, topic, partition: 0, (0..<30).map { TestKafka.record("k\($0)", "v\($0)") })
        let name = TestKafka.unique("txn-src")
        let config = try TestKafka.source(name, mode: .mirror, topics: [topic])
        let first = KafkaSource(config: config)
        let firstRun = Task { await first.runBackground() }
        _ = try await first.waitForDrain(timeout: .seconds(30))
        firstRun.cancel()
        await firstRun.value

        let syncsTopic = config.kafka!.offsetSyncsTopic
        let syncs = try await TestKafka.read(.dr, syncsTopic, partition: 0).compactMap { record in
            try? OffsetSync.decode(key: Array(record.key ?? []), value: Array(record.value ?? []))
        }
        // The first run's opening sync, then per transaction where its first record landed and
        // where the next lands after its commit marker (this cluster writes none: one past it).
        #expect(syncs.first == OffsetSync(topic: topic, partition: 0, upstreamOffset: 0, downstreamOffset: 0))
        #expect(syncs.last == OffsetSync(topic: topic, partition: 0, upstreamOffset: 30, downstreamOffset: 31), "\(syncs)")
        #expect(syncs.count >= 3 && syncs.count % 2 == 1, "\(syncs)")

        try await TestKafka.produce(.primary, topic, partition: 0, (30..<50).map { TestKafka.record("k\($0)", "v\($0)") })
        let second = KafkaSource(config: config)
        let secondRun = Task { await second.runBackground() }
        defer { secondRun.cancel() }
        _ = try await second.waitForDrain(timeout: .seconds(30))
        #expect(try await TestKafka.read(.dr, topic, partition: 0) == TestKafka.read(.primary, topic, partition: 0),
                "resumed at 30 from the DR side's committed records, not at the last sync's DR offset")
        let check = try await second.check(CheckOptions(rounds: 1)) { _ in }
        #expect(check.status == .pass && check.primaryRows == 50, "\(check)")
    }
}
