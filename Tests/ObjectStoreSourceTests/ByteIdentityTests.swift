import Foundation
import Testing
@testable import ObjectStoreSource
@testable import SyncCore
import TestSupport

extension SeaweedClusters {
    /// Keys that differ only in Unicode normalisation are two objects, and reconcile converges on
    /// multipart objects.
    @Suite struct ByteIdentityTests {
        static let nfc = "caf\u{E9}"            // é as one code point
        static let nfd = "cafe\u{301}"          // e + combining acute: the same text to Swift's ==
        static let prefixNFC = "\u{C5}ngstr\u{F6}m/"
        static let prefixNFD = "A\u{30A}ngstro\u{308}m/"

        func keyOf(_ diff: Diff) -> String? { ObjectStoreSource.objectKey(diff.key) }

        @Test("NFC and NFD spellings of a key and of a first-level prefix are different objects, in listing and content mode")
        func normalisationVariantsAreDifferentKeys() async throws {
            #expect(Self.nfc == Self.nfd, "the premise: Swift's String equality folds the two")
            let (name, _, primary, dr) = try await TestS3.bucketPair("nfd", sameName: true)
            for key in ["ord/a", "ord/\(Self.nfc)", "ord/\(Self.nfd)", "\(Self.prefixNFC)x.txt", "\(Self.prefixNFD)x.txt", "top-\(Self.nfc)", "top-\(Self.nfd)"] {
                try await TestS3.put(primary, key, "same")
            }
            for key in ["ord/a", "ord/\(Self.nfc)", "\(Self.prefixNFC)x.txt", "top-\(Self.nfc)"] {
                try await TestS3.put(dr, key, "same")
            }
            for content in [false, true] {
                let config = TestS3.source(TestS3.unique("s3-nfd"), mode: .native, primaryBucket: name, drBucket: name, contentCheck: content)
                let result = try await ObjectStoreSource(config: config).check(CheckOptions(rounds: 1, fullDiff: true)) { _ in }
                #expect(result.primaryRows == 7 && result.drRows == 4, "content \(content): \(result.tables)")
                #expect(result.missing == 3 && result.extra == 0 && result.changed == 0, "content \(content): \(result.diffs)")
                #expect(result.status == .fail)
                let missing = result.diffs.compactMap(keyOf).map(\.byteKey).sorted()
                let expected = ["ord/\(Self.nfd)", "\(Self.prefixNFD)x.txt", "top-\(Self.nfd)"].map(\.byteKey).sorted()
                #expect(missing == expected, "the NFD spellings are the missing ones: \(missing)")
            }
        }

        @Test("keys with CR, CRLF, LF and control characters are listed as the store holds them: 'a\\rb' and 'a\\nb', '\\u{1}' and '\\u{2}' differ; the managed copy copies them exactly")
        func keysAnXMLParserWouldRewriteStayDistinct() async throws {
            let (name, _, primary, dr) = try await TestS3.bucketPair("ctl", sameName: true)
            // An XML parser reads a raw CR or CRLF in text as LF; SeaweedFS's XML (Go's encoder) sends
            // every control character but TAB, LF and CR as U+FFFD unless keys are URL-encoded, so
            // "ctl\u{1}" and "ctl\u{2}" listed as one key and the check passed.
            try await TestS3.put(primary, "line\rend", "same")
            try await TestS3.put(dr, "line\nend", "same")
            try await TestS3.put(primary, "ctl\u{1}", "same")
            try await TestS3.put(dr, "ctl\u{2}", "same")
            for key in ["crlf\r\n.txt", "bell\u{7}\u{1}.txt", "tab\tand space +plus%25.txt"] {
                try await TestS3.put(primary, key, "same")
                try await TestS3.put(dr, key, "same")
            }
            let adapter = ObjectStoreSource(config: TestS3.source(TestS3.unique("s3-ctl"), mode: .native, primaryBucket: name, drBucket: name))
            let result = try await adapter.check(CheckOptions(rounds: 1, fullDiff: true)) { _ in }
            #expect(result.primaryRows == 5 && result.drRows == 5, "\(result.tables)")
            #expect(result.status == .fail && result.missing == 2 && result.extra == 2 && result.changed == 0, "\(result.diffs)")
            func keys(_ kind: DiffKind) -> [ByteKey] { result.diffs.filter { $0.kind == kind }.compactMap(keyOf).map(\.byteKey).sorted() }
            #expect(keys(.missing) == ["ctl\u{1}", "line\rend"].map(\.byteKey).sorted(), "\(result.diffs)")
            #expect(keys(.extra) == ["ctl\u{2}", "line\nend"].map(\.byteKey).sorted(), "\(result.diffs)")

            // The managed copy lists, reads and writes the same bytes: into an empty bucket, then equal.
            let target = TestS3.unique("ctl-copy")
            _ = try await TestS3.makeBucket(.dr, target)
            let managed = ObjectStoreSource(config: TestS3.source(TestS3.unique("s3-ctl-managed"), mode: .managed, primaryBucket: name, drBucket: target))
            let background = Task { await managed.runBackground() }
            defer { background.cancel() }
            _ = try await managed.waitForDrain(timeout: .seconds(30))
            let copied = try await TestS3.bucket(.dr, target).listAll(prefix: "")
            #expect(Set(copied.keys) == Set(["line\rend", "ctl\u{1}", "crlf\r\n.txt", "bell\u{7}\u{1}.txt", "tab\tand space +plus%25.txt"].map(\.byteKey)), "\(copied.keys)")
            let check = try await managed.check(CheckOptions(rounds: 1)) { _ in }
            #expect(check.status == .pass, "\(check.diffs)")
        }

        @Test("reconcile copies the NFD object itself, and the second apply copies nothing")
        func reconcileOfNormalisationVariantsConverges() async throws {
            let (name, _, primary, dr) = try await TestS3.bucketPair("nfdr", sameName: true)
            try await TestS3.put(primary, "k/\(Self.nfc)", "nfc")
            try await TestS3.put(primary, "k/\(Self.nfd)", "nfd")
            try await TestS3.put(dr, "k/\(Self.nfc)", "nfc")
            let adapter = ObjectStoreSource(config: TestS3.source(TestS3.unique("s3-nfdr"), mode: .native, primaryBucket: name, drBucket: name))
            let check = try await adapter.check(CheckOptions(rounds: 1)) { _ in }
            let plan = try await adapter.planReconcile(from: check)
            #expect(plan.upserts == 1, "\(plan)")
            let applied = try await adapter.applyReconcile(plan)
            #expect(applied.rowsUpserted == 1 && applied.stillDiffering == 0)
            let listed = try await dr.listAll(prefix: "k/")
            #expect(listed.count == 2 && listed["k/\(Self.nfd)".byteKey] != nil, "\(listed.keys)")
            let after = try await adapter.check(CheckOptions(rounds: 1)) { _ in }
            #expect(after.status == .pass, "\(after.diffs)")
            let again = try await adapter.planReconcile(from: after)
            #expect(again.batches.isEmpty, "\(again)")
        }

        @Test("a multipart object whose ETag differs is copied once in the primary's part layout (even under multipart_threshold); a second apply copies nothing")
        func multipartReconcileConverges() async throws {
            let (name, _, primary, dr) = try await TestS3.bucketPair("mpc", sameName: true)
            // 11 MiB in 6 MiB parts on the primary (S3's minimum part is 5 MiB); the DR side has the same bytes in one part.
            let bytes = (0..<(11 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-mp-\(UUID().uuidString)").path
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            defer { try? FileManager.default.removeItem(atPath: path) }
            try await primary.put("big.bin", file: path, size: Int64(bytes.count), multipartThreshold: 1, partSize: 6 << 20, exactParts: 6 << 20)
            try await TestS3.put(dr, "big.bin", bytes)
            try await TestS3.put(primary, "same.txt", "same")
            try await TestS3.put(dr, "same.txt", "same")

            // Content mode: the content check proved the object equal, so nothing is copied.
            let content = ObjectStoreSource(config: TestS3.source(TestS3.unique("s3-mpc"), mode: .native, primaryBucket: name, drBucket: name, contentCheck: true))
            let proved = try await content.check(CheckOptions(rounds: 1)) { _ in }
            #expect(proved.status == .pass, "\(proved.diffs)")
            #expect(try await content.planReconcile(from: proved).batches.isEmpty)

            // Listing mode: the ETags differ, so it is copied once, with a threshold above its size.
            var config = TestS3.source(TestS3.unique("s3-mpl"), mode: .native, primaryBucket: name, drBucket: name)
            config.objectStore?.multipartThreshold = 64 << 20
            config.objectStore?.partSize = 16 << 20
            let listing = ObjectStoreSource(config: config)
            let before = try await listing.check(CheckOptions(rounds: 1)) { _ in }
            #expect(before.status == .fail && before.changed == 1, "\(before.diffs)")
            let first = try await listing.applyReconcile(try await listing.planReconcile(from: before))
            #expect(first.rowsUpserted == 1 && first.stillDiffering == 0, "\(first)")
            let primaryETag = try await primary.head("big.bin")?.entry.etag
            let drETag = try await dr.head("big.bin")?.entry.etag
            #expect(primaryETag != nil && primaryETag == drETag, "same part layout, same ETag: \(primaryETag ?? "-") vs \(drETag ?? "-")")
            let after = try await listing.check(CheckOptions(rounds: 1)) { _ in }
            #expect(after.status == .pass, "\(after.diffs)")
            let second = try await listing.applyReconcile(try await listing.planReconcile(from: after))
            #expect(second.rowsUpserted == 0 && second.rowsDeleted == 0)
            // The same (old) check planned again: what it found is settled now, nothing is copied.
            let stale = try await listing.planReconcile(from: before)
            #expect(stale.batches.isEmpty, "\(stale)")
        }
    }
}

@Suite struct PartLayoutTests {
    @Test func partCountAndCandidates() throws {
        #expect(PartLayout.partCount(etag: "abc-3") == 3)
        #expect(PartLayout.partCount(etag: "abc") == nil)
        let mib: Int64 = 1 << 20
        let candidates = PartLayout.candidates(size: 11 * mib, parts: 3, hints: [])
        #expect(candidates.contains(4 * mib) && candidates.contains(5 * mib))
        #expect(candidates.allSatisfy { (11 * mib + $0 - 1) / $0 == 3 }, "every candidate splits into exactly 3 parts")
        #expect(!PartLayout.candidates(size: 11 * mib, parts: 3, hints: [7 * mib]).contains(7 * mib), "a hint that does not fit is dropped")
        #expect(PartLayout.candidates(size: 11 * mib, parts: 3, hints: [4 * mib]).first == 4 * mib, "a fitting hint comes first")
    }

    @Test func localETagMatchesTheS3Formula() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-etag-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: path, contents: Data("abcdefghij".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        // md5(md5("abcd") + md5("efgh") + md5("ij")) and the part count, as S3 forms it.
        let etag = try PartLayout.etag(file: path, size: 10, partSize: 4)
        #expect(etag == "446feba4c1b5cc7ad93bf4d44a0e36ac-3")
        #expect(try PartLayout.etag(file: path, size: 10, partSize: 5) != etag, "another layout, another ETag")
        #expect(try PartLayout.find(etag: etag, file: path, size: 10, hints: [4]) == 4)
    }
}
