import Foundation
import Testing
@testable import ObjectStoreSource
@testable import SyncCore
import TestSupport

extension SeaweedClusters {
    @Suite struct MetadataTests {
        @Test("compare_metadata: a copy without the original Content-Type, Cache-Control or user metadata is a difference; the managed copy and reconcile carry them")
        func metadataIsComparedAndCarried() async throws {
            let (source, target, primary, dr) = try await TestS3.bucketPair("meta")
            let described = ["content-type": "application/json", "cache-control": "max-age=60", "x-amz-meta-owner": "payments",
                             "content-disposition": "attachment; filename=\"r.json\""]
            try await TestS3.put(primary, "report.json", Array(#"{"ok":true}"#.utf8), headers: described, tags: ["team": "payments"])
            try await TestS3.put(primary, "plain.txt", "plain")
            // A copy made by something that drops the headers: same bytes, no metadata.
            try await TestS3.put(dr, "report.json", Array(#"{"ok":true}"#.utf8))
            try await TestS3.put(dr, "plain.txt", "plain")

            var config = TestS3.source("s3-meta", mode: .managed, primaryBucket: source, drBucket: target)
            let blind = try await ObjectStoreSource(config: config).check(CheckOptions(rounds: 1)) { _ in }
            #expect(blind.status == .pass, "without compare_metadata the listing sees equal objects")

            config.objectStore?.compareMetadata = true
            let adapter = ObjectStoreSource(config: config)
            let check = try await adapter.check(CheckOptions(rounds: 1)) { _ in }
            #expect(check.status == .fail && check.changed == 1, "\(check.diffs)")
            let diff = try #require(check.diffs.first)
            #expect(ObjectStoreSource.objectKey(diff.key) == "report.json")
            #expect(diff.detail?.contains("content-type 'application/json' vs") == true && diff.detail?.contains("x-amz-meta-owner 'payments' vs (none)") == true
                    && diff.detail?.contains("tag team 'payments' vs (none)") == true, "\(diff.detail ?? "")")

            let plan = try await adapter.planReconcile(from: check)
            #expect(plan.upserts == 1, "\(plan.batches)")
            let outcome = try await adapter.applyReconcile(plan)
            #expect(outcome.rowsUpserted == 1 && outcome.status == .pass, "\(outcome)")
            let copied = try #require(try await dr.metadata("report.json"))
            #expect(copied.fields["content-type"] == "application/json" && copied.fields["x-amz-meta-owner"] == "payments", "\(copied.fields)")
            #expect(try await dr.tags("report.json") == ["team": "payments"], "the tags travel with the copy")
            let after = try await adapter.check(CheckOptions(rounds: 1)) { _ in }
            #expect(after.status == .pass, "\(after.diffs)")
        }

        @Test func metadataDifferencesNameEachHeader() {
            let primary = ObjectMetadata(headers: ["content-type": "text/plain", "x-amz-meta-a": "1", "etag": "x", "content-length": "5"])
            let copy = ObjectMetadata(headers: ["content-type": "text/plain", "x-amz-meta-b": "2"])
            #expect(primary.fields.keys.sorted() == ["content-type", "x-amz-meta-a"], "only the compared headers")
            #expect(primary.difference(from: copy) == "metadata: x-amz-meta-a '1' vs (none), x-amz-meta-b (none) vs '2'")
            #expect(primary.difference(from: primary) == nil)
            // Values are compared as bytes: two spellings of é are two values.
            let nfc = ObjectMetadata(headers: ["x-amz-meta-name": "caf\u{00E9}"]), nfd = ObjectMetadata(headers: ["x-amz-meta-name": "cafe\u{0301}"])
            #expect(nfc.difference(from: nfd) != nil)
            // And tag names: two spellings of one word are two tags.
            var tagged = ObjectMetadata(headers: [:]), respelled = ObjectMetadata(headers: [:])
            tagged.tags = [ByteKey("caf\u{00E9}"): "1"]
            respelled.tags = [ByteKey("cafe\u{0301}"): "1"]
            #expect(tagged.difference(from: respelled)?.contains("vs (none)") == true)
        }
    }
}
