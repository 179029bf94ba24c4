import Crypto
import Foundation
import Logging
import Metrics
import SQLiteJournal
import Testing
@testable import ObjectStoreSource
@testable import SyncManager
@testable import SyncCore
import TestSupport

extension SeaweedClusters {
    @Suite struct NativeReplicationTests {
        @Test("filer.sync: backlog and lag grow while it is stopped and drain after it restarts; control is refused")
        func backlogGrowsWhileFilerSyncIsStopped() async throws {
            let prefix = TestS3.unique("lag") + "/"
            let config = TestS3.source("s3-native", mode: .native, primaryBucket: TestS3.replicatedBucket, drBucket: TestS3.replicatedBucket, prefix: prefix)
            let adapter = ObjectStoreSource(config: config)
            let primary = TestS3.bucket(.primary, TestS3.replicatedBucket)
            try await TestS3.script("sync-stop")
            do {
                for index in 0..<5 { try await TestS3.put(primary, "\(prefix)file-\(index)", "payload \(index)") }
                // The lag is the age of the oldest missing object: it grows past a second.
                var behind = await adapter.sample()
                #expect(try await eventually(timeout: .seconds(10), every: .milliseconds(200)) {
                    behind = await adapter.sample()
                    return (behind.lagSeconds ?? 0) >= 1
                })
                #expect(behind.state == .syncing, "\(behind)")
                #expect(behind.lagVolume == 5)
                #expect(behind.details["backlog_bytes"] == "45")
                #expect(behind.details["replication_status"]?.contains("not reported") == true)
                await #expect { _ = try await adapter.waitForDrain(timeout: .milliseconds(800)) } throws: { error in
                    guard case let SyncError.timeout(message) = error else { return false }
                    return message.contains("5 object(s)")
                }
            } catch {
                try await TestS3.script("sync-start")
                throw error
            }
            try await TestS3.script("sync-start")
            let drained = try await adapter.waitForDrain(timeout: .seconds(60))
            #expect(drained.waitedSeconds >= 0)
            let after = await adapter.sample()
            #expect(after.state == .inSync && after.lagVolume == 0 && after.lagSeconds == 0, "\(after)")
            await #expect { try await adapter.pause() } throws: { error in "\(error)".contains("not supported by native replication") }
            let check = try await adapter.check(CheckOptions(rounds: 1)) { _ in }
            #expect(check.status == .pass && check.primaryRows == 5, "\(check)")
        }
    }

    @Suite struct ManagedCopyTests {
        @Test("managed copy converges an empty DR bucket (multipart for big objects), pauses, resumes and drains")
        func managedCopyConvergesPausesAndResumes() async throws {
            let (source, target, primary, _) = try await TestS3.bucketPair("mp")
            for index in 0..<12 { try await TestS3.put(primary, "docs/\(index).txt", "document \(index)") }
            let big = (0..<(11 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            try await TestS3.put(primary, "media/big.bin", big, multipartThreshold: 5 << 20)
            try await TestS3.put(primary, "media/single.bin", Array(big.prefix(6 << 20)))
            let adapter = ObjectStoreSource(config: TestS3.source("s3-managed", mode: .managed, primaryBucket: source, drBucket: target, contentCheck: true))
            let background = Task { await adapter.runBackground() }
            defer { background.cancel() }

            #expect(try await eventually { let sample = await adapter.sample(); return sample.state == .inSync && sample.lagVolume == 0 })
            let dr = try await TestS3.bucket(.dr, target).listAll(prefix: "")
            #expect(dr.count == 14)
            #expect(dr["media/big.bin"]?.isMultipart == true, "a multipart source is uploaded in 5 MiB parts")
            #expect(dr["media/big.bin"]?.size == Int64(big.count))
            #expect(dr["media/single.bin"]?.isMultipart == false, "a single-part source stays one PUT, so ETags compare")
            #expect(dr["media/single.bin"]?.etag == (try await primary.listAll(prefix: "media/single"))["media/single.bin"]?.etag)
            // Content mode: a multipart copy with equal content is equal.
            let check = try await adapter.check(CheckOptions(rounds: 1)) { _ in }
            #expect(check.status == .pass, "\(check)")

            try await adapter.pause()
            try await TestS3.put(primary, "docs/late.txt", "late")
            var paused = await adapter.sample()
            #expect(try await eventually(timeout: .seconds(10), every: .milliseconds(200)) {
                paused = await adapter.sample()
                return paused.lagVolume == 1
            }, "the paused copy leaves the new object missing: \(paused)")
            #expect(paused.state == .paused)
            #expect(paused.lagVolume == 1)
            await #expect(throws: SyncError.self) { _ = try await adapter.waitForDrain(timeout: .seconds(5)) }
            try await adapter.resume()
            _ = try await adapter.waitForDrain(timeout: .seconds(60))
            #expect(await adapter.sample().lagVolume == 0)

            // Force full sync copies every object again, equal or not.
            let copiedBefore = Int(await adapter.sample().details["objects_copied"] ?? "") ?? -1
            try await adapter.forceFullSync()
            let copiedAfter = Int(await adapter.sample().details["objects_copied"] ?? "") ?? -1
            #expect(copiedAfter - copiedBefore == 15, "\(copiedBefore) -> \(copiedAfter)")
        }
    }

    @Suite struct DurablePauseTests {
        @Test("a pause outlives the process: a syncd started on the same journal keeps the managed copy paused until resumed")
        func aPausedManagedCopyStaysPausedAcrossARestart() async throws {
            let (source, target, primary, _) = try await TestS3.bucketPair("dp")
            let config = TestS3.source(TestS3.unique("s3-durable"), mode: .managed, primaryBucket: source, drBucket: target)
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-dp-\(UUID().uuidString)/journal.sqlite").path
            func manager() throws -> SyncManager {
                SyncManager(sources: [(config, ObjectStoreSource(config: config))], journal: try SQLiteJournal(path: path), historySize: 10,
                            metricsFactory: NOOPMetricsHandler.instance, logger: Logger(label: "test"))
            }
            let first = try manager()
            let firstRun = Task { try await first.run() }
            try await TestS3.put(primary, "before.txt", "copied")
            _ = try await first.control(.drain, source: config.name, actor: "test")
            _ = try await first.control(.pause, source: config.name, actor: "test")
            firstRun.cancel()
            _ = await firstRun.result

            // Written while no syncd runs; the next one must not copy it.
            try await TestS3.put(primary, "after.txt", "left behind")
            let second = try manager()
            let secondRun = Task { try await second.run() }
            defer { secondRun.cancel() }
            let monitor = try #require(second.monitor(named: config.name))
            #expect(try await eventually(timeout: .seconds(10), every: .milliseconds(100)) { await monitor.freshSample().state == .paused })
            try await Task.sleep(for: .seconds(2))  // four copy intervals
            let dr = TestS3.bucket(.dr, target)
            #expect(try await dr.listAll(prefix: "").keys.sorted() == ["before.txt".byteKey], "nothing copied while paused on record")
            await #expect(throws: SyncError.self) { _ = try await second.control(.drain, source: config.name, actor: "test") }

            _ = try await second.control(.resume, source: config.name, actor: "test")
            _ = try await second.control(.drain, source: config.name, actor: "test")
            #expect(try await dr.listAll(prefix: "").count == 2)
            let record = try await SQLiteJournal(path: path).recent(limit: 5, source: config.name, kind: "replication").map(\.action)
            #expect(record == ["running", "paused"], "the journal's word on the copy, newest first: \(record)")
        }
    }

    @Suite struct ManagedCopyFailureTests {
        @Test("a drain that times out because the managed copy keeps failing gives the copy's own error")
        func aDrainThatTimesOutSaysWhyTheCopyFails() async throws {
            let (source, target, primary, _) = try await TestS3.bucketPair("mf")
            try await TestS3.put(primary, "report.txt", "quarterly")
            // Two keys that differ only in Unicode normalisation: two objects, two failures.
            try await TestS3.put(primary, "caf\u{E9}", "composed")
            try await TestS3.put(primary, "cafe\u{301}", "decomposed")
            // Credentials that may list the DR bucket but not write to it.
            let config = TestS3.source(TestS3.unique("s3-denied"), mode: .managed, primaryBucket: source, drBucket: target,
                                       dr: TestS3.endpoint(.dr, bucket: target, access: TestS3.Servers.readerAccess))
            let adapter = ObjectStoreSource(config: config)
            let background = Task { await adapter.runBackground() }
            defer { background.cancel() }
            #expect(try await eventually(timeout: .seconds(20), every: .milliseconds(200)) { await adapter.sample().state == .broken })
            var message = ""
            do {
                _ = try await adapter.waitForDrain(timeout: .seconds(2))
                Issue.record("a drain into a bucket nothing can write to succeeded")
            } catch let SyncError.timeout(text) {
                message = text
            }
            #expect(message.contains("3 object(s) written before the call are still missing or stale"), "\(message)")
            // The failure named first is the first key in byte order (the decomposed spelling, shown escaped).
            #expect(message.contains("the managed copy is failing, 0 object(s) copied by this process, its last attempt failed: 3 object(s) could not be copied, e.g. 'cafe\\u0301'"), "\(message)")
            #expect(message.contains("AccessDenied"), "the store's own reason: \(message)")

            // syncctl's in-process engine does not run the copy: the drain says so instead of blaming it.
            let elsewhere = ObjectStoreSource(config: config)
            do {
                _ = try await elsewhere.waitForDrain(timeout: .seconds(1))
                Issue.record("the drain succeeded without a copy")
            } catch let SyncError.timeout(text) {
                #expect(text.hasSuffix("; the managed copy is not running in this process"), "\(text)")
            }
        }
    }

    @Suite struct ObjectCheckTests {
        /// Buckets with one object of each kind of difference, written directly to each side.
        func planted() async throws -> (ObjectStoreSource, S3Bucket, S3Bucket, String) {
            let (source, target, primary, dr) = try await TestS3.bucketPair("cp")
            for index in 0..<20 {
                try await TestS3.put(primary, "same/\(index)", "same \(index)")
                try await TestS3.put(dr, "same/\(index)", "same \(index)")
            }
            try await TestS3.put(primary, "missing.txt", "only here")
            try await TestS3.put(dr, "extra.txt", "only there")
            try await TestS3.put(primary, "changed-content.txt", "aaaa")
            try await TestS3.put(dr, "changed-content.txt", "bbbb")
            try await TestS3.put(primary, "changed-size.txt", "short")
            try await TestS3.put(dr, "changed-size.txt", "longer text")
            let big = (0..<(6 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            try await TestS3.put(primary, "multipart.bin", big)
            try await TestS3.put(dr, "multipart.bin", big, multipartThreshold: 5 << 20)
            return (ObjectStoreSource(config: TestS3.source(TestS3.unique("s3-check"), mode: .native, primaryBucket: source, drBucket: target)), primary, dr, target)
        }

        @Test("every difference kind is found; a multipart copy is unverifiable by ETag and equal in content mode")
        func everyDifferenceKindIsFound() async throws {
            let (adapter, _, _, target) = try await planted()
            var options = CheckOptions(rounds: 2)
            options.fullDiff = true
            let result = try await adapter.check(options) { _ in }
            #expect(result.status == .fail)
            #expect(result.missing == 1 && result.extra == 1, "\(result)")
            #expect(result.changed == 3, "content, size and the multipart object whose ETag proves nothing: \(result.diffs)")
            #expect(result.primaryRows == 24 && result.drRows == 24)
            #expect(result.rounds == 2)
            func detail(_ key: String) -> String? { result.diffs.first { $0.key == .object(["key": .string(key)]) }?.detail }
            #expect(detail("changed-size.txt") == "size 5 vs 11")
            #expect(detail("changed-content.txt")?.hasPrefix("ETag") == true)
            #expect(detail("multipart.bin")?.contains("content_check") == true)
            #expect(result.diffs.contains { $0.kind == .missing && $0.key == .object(["key": .string("missing.txt")]) })
            #expect(result.diffs.contains { $0.kind == .extra && $0.key == .object(["key": .string("extra.txt")]) })

            let contentConfig = TestS3.source("s3-content", mode: .native, primaryBucket: adapter.primary.store.bucket, drBucket: target, contentCheck: true)
            let content = try await ObjectStoreSource(config: contentConfig).check(options) { _ in }
            #expect(content.changed == 2, "in content mode the multipart copy is equal: \(content.diffs)")
            #expect(content.notes.contains { $0.contains("SHA-256") })
        }

        @Test("reconcile: dry run changes nothing; apply copies, keeps DR-only objects unless asked to delete; re-check passes")
        func reconcileCopiesAndDeletesOnlyWhenAsked() async throws {
            let (adapter, _, dr, _) = try await planted()
            let before = try await dr.listAll(prefix: "")
            let check = try await adapter.check(CheckOptions(rounds: 1)) { _ in }
            let plan = try await adapter.planReconcile(from: check)
            #expect(plan.upserts == 4 && plan.deletes == 1, "\(plan)")
            #expect(plan.batches.flatMap(\.statements).contains { $0.hasPrefix("COPY") && $0.contains("missing.txt") })
            #expect(try await dr.listAll(prefix: "") == before, "planning writes nothing")

            var keep = plan
            keep.batches = plan.batches.filter { $0.deleteKeys.isEmpty }
            let copied = try await adapter.applyReconcile(keep)
            #expect(copied.rowsUpserted == 4 && copied.rowsDeleted == 0)
            #expect(copied.stillDiffering == 0)
            let partial = try await adapter.check(CheckOptions(rounds: 1)) { _ in }
            #expect(partial.missing == 0 && partial.extra == 1, "the DR-only object is kept")

            let full = try await adapter.applyReconcile(try await adapter.planReconcile(from: partial))
            #expect(full.rowsDeleted == 1)
            let again = try await adapter.applyReconcile(try await adapter.planReconcile(from: partial))
            #expect(again.rowsUpserted == 0 && again.rowsDeleted == 0, "nothing left to do: converged")
            let recheck = try await adapter.check(CheckOptions(rounds: 1)) { _ in }
            #expect(recheck.status == .pass, "\(recheck.diffs)")
        }

        @Test("through the sync manager, DR-only objects are deleted only with --delete")
        func managerKeepsDROnlyObjectsUnlessAskedToDelete() async throws {
            let (adapter, _, _, target) = try await planted()
            let config = TestS3.source("s3-managed-reconcile", mode: .native, primaryBucket: adapter.primary.store.bucket, drBucket: target)
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-s3-\(UUID().uuidString)/journal.sqlite").path
            let manager = SyncManager(sources: [(config, ObjectStoreSource(config: config))], journal: try SQLiteJournal(path: path), historySize: 10,
                                      metricsFactory: NOOPMetricsHandler.instance, logger: Logger(label: "test"))
            _ = try await manager.check(source: config.name, options: CheckOptions(rounds: 1), actor: "test")
            let kept = try await manager.reconcile(source: config.name, apply: false, actor: "test")
            #expect(kept.plan.deletes == 0 && kept.plan.upserts == 4)
            #expect(kept.plan.notes.contains { $0.contains("pass --delete") })
            let deleting = try await manager.reconcile(source: config.name, apply: false, deleteExtras: true, actor: "test")
            #expect(deleting.plan.deletes == 1)
        }

        @Test("wrong credentials, a missing bucket and an unreachable endpoint are clear states that fail the gate")
        func badCredentialsMissingBucketAndUnreachable() async throws {
            let bucket = TestS3.unique("ok")
            _ = try await TestS3.makeBucket(.primary, bucket)
            _ = try await TestS3.makeBucket(.dr, bucket)
            let wrongSecret = TestS3.source("s3-auth", mode: .native, primaryBucket: bucket, drBucket: bucket,
                                            dr: TestS3.endpoint(.dr, bucket: bucket, secret: "not-the-secret"))
            let denied = await ObjectStoreSource(config: wrongSecret).sample()
            #expect(denied.state == .unreachable)
            #expect(denied.errors.first?.contains("access denied") == true, "\(denied.errors)")
            #expect(denied.errors.first?.contains("not-the-secret") == false, "secrets never appear in messages")

            let missing = await ObjectStoreSource(config: TestS3.source("s3-missing", mode: .native, primaryBucket: bucket, drBucket: "no-such-bucket-here")).sample()
            #expect(missing.state == .broken)
            #expect(missing.errors.first?.contains("bucket 'no-such-bucket-here' does not exist") == true, "\(missing.errors)")

            let closed = TestS3.source("s3-closed", mode: .native, primaryBucket: bucket, drBucket: bucket,
                                       primary: TestS3.endpoint(.primary, bucket: bucket, url: "http://127.0.0.1:1"))
            let down = await ObjectStoreSource(config: closed).sample()
            #expect(down.state == .unreachable)
            #expect(down.errors.first?.contains("primary 127.0.0.1:1 is unreachable") == true, "\(down.errors)")
            #expect(down.lagSeconds == nil)

            let passing = CheckSummary(finishedAt: Date(), ratio: 1, countRatio: 1)
            for sample in [denied, missing, down] {
                let verdict = Gate.evaluate(source: "s3", policy: wrongSecret.policy, sample: sample, check: passing, now: Date())
                #expect(verdict.status == .fail)
            }
        }
    }
}

extension SeaweedClusters.ObjectCheckTests {
    /// Writes `bytes` in one PUT that asks the store to keep their SHA-256 (S3's additional checksums).
    static func putWithChecksum(_ bucket: S3Bucket, _ key: String, _ bytes: [UInt8], claimed: [UInt8]? = nil) async throws {
        let digest = Data(SHA256.hash(data: claimed ?? bytes)).base64EncodedString()
        _ = try await bucket.request("PUT", key: key, headers: ["x-amz-checksum-sha256: \(digest)"], body: .bytes(bytes))
    }

    @Test("content mode settles objects by the stores' full-object checksums where both sides keep one, and streams the rest")
    func contentModeUsesFullObjectChecksums() async throws {
        let (name, _, primary, dr) = try await TestS3.bucketPair("cksum", sameName: true)
        let same = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var other = same
        other[20_000] ^= 0xff
        try await Self.putWithChecksum(primary, "same.bin", same)
        try await Self.putWithChecksum(dr, "same.bin", same)
        try await Self.putWithChecksum(primary, "differs.bin", same)
        try await Self.putWithChecksum(dr, "differs.bin", other)
        try await TestS3.put(primary, "plain.bin", same)
        try await TestS3.put(dr, "plain.bin", same)
        try await TestS3.put(primary, "plain-differs.bin", same)
        try await TestS3.put(dr, "plain-differs.bin", other)

        let stored = try await primary.fullObjectChecksums("same.bin")
        #expect(stored?.values[.sha256] == Data(SHA256.hash(data: same)).base64EncodedString(), "SeaweedFS keeps and returns the SHA-256")
        #expect(try await primary.fullObjectChecksums("plain.bin")?.isEmpty == true)
        #expect(try await primary.fullObjectChecksums("absent.bin") == nil)
        // A store that checks what it is told refuses a wrong checksum instead of keeping it.
        await #expect(throws: (any Error).self) { try await Self.putWithChecksum(primary, "lie.bin", same, claimed: other) }

        let adapter = ObjectStoreSource(config: TestS3.source(TestS3.unique("s3-cksum"), mode: .native, primaryBucket: name, drBucket: name, contentCheck: true))
        var options = CheckOptions(rounds: 1)
        options.fullDiff = true
        let result = try await adapter.check(options) { _ in }
        func detail(_ key: String) -> String? { result.diffs.first { $0.key == .object(["key": .string(key)]) }?.detail }
        #expect(result.changed == 2, "\(result.diffs)")
        #expect(detail("differs.bin") == "content differs (sha256 full-object checksum)")
        #expect(detail("plain-differs.bin") == "content differs (SHA-256)")
        #expect(result.notes.contains { $0.contains("2 by their sha256 full-object checksums, 2 streamed through SHA-256") }, "\(result.notes)")

        // The managed copy carries the source's checksum to the DR side (the store checks the bytes
        // against it), so checking the copy reads no content either.
        let target = TestS3.unique("cksum-copy")
        let copyBucket = try await TestS3.makeBucket(.dr, target)
        let managed = ObjectStoreSource(config: TestS3.source(TestS3.unique("s3-cksum-managed"), mode: .managed, primaryBucket: name, drBucket: target,
                                                              contentCheck: true))
        let background = Task { await managed.runBackground() }
        defer { background.cancel() }
        _ = try await managed.waitForDrain(timeout: .seconds(30))
        #expect(try await copyBucket.fullObjectChecksums("same.bin")?.values[.sha256] == stored?.values[.sha256])
        #expect(try await copyBucket.fullObjectChecksums("plain.bin")?.isEmpty == true, "no checksum on the source, none invented")
        let copied = try await managed.check(options) { _ in }
        #expect(copied.status == .pass, "\(copied.diffs)")
        #expect(copied.notes.contains { $0.contains("2 by their sha256 full-object checksums, 2 streamed through SHA-256") }, "\(copied.notes)")
    }
}
