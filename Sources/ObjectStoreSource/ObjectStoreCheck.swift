import Foundation
import SyncCore

/// The object-store side of a check (`CheckEngine` runs the rounds): one scope, the bucket (under
/// the prefix). Both listings are compared by key (as bytes), size and ETag; in content mode every
/// object present on both sides with equal sizes is streamed through SHA-256 on both sides;
/// re-check rounds, 1 s apart, re-list (and re-hash) what differed.
struct ObjectStoreCheck: CheckStrategy {
    let source: ObjectStoreSource
    let checkOptions: CheckOptions
    let started = Date()
    var label = ""
    var listed = BucketComparison()
    var differences: [ByteKey: ObjectStoreSource.KeyDifference] = [:]
    var ownNotes: [String] = []

    var words: SourceWords { .objectStore }
    var options: ObjectStoreOptions { source.options }

    mutating func prepare(_ reporter: CheckReporter) async throws -> [String] {
        let (primary, dr) = (source.primary.store, source.dr.store)
        let table = dr.bucket == primary.bucket ? primary.bucket : "\(primary.bucket) -> \(dr.bucket)"
        label = options.prefix.isEmpty ? table : "\(table) (prefix \(options.prefix))"
        if let wanted = checkOptions.tables, wanted != [primary.bucket], wanted != [label] {
            throw SyncError.invalidState("'\(source.name)' has one bucket to check, '\(primary.bucket)' (asked for \(wanted.joined(separator: ", ")))")
        }
        // The listing comes first: the budget of differences is a share of what the primary holds.
        listed = try await source.scan(collectSameSize: options.contentCheck || options.compareMetadata)
        reporter.at(label).compared(Int64(listed.primaryCount + listed.drCount))
        differences = listed.differences
        ownNotes.append("compared key (as bytes), size and ETag from ListObjectsV2 of both buckets")
        return [label]
    }

    var primaryItems: Int64 { Int64(listed.primaryCount) }

    mutating func compare(_ scope: Int, budget: Int64?, reporter: CheckReporter) async throws -> Bool {
        if options.contentCheck, try await compareContent(budget: budget, reporter: reporter) { return true }
        if options.compareMetadata {
            let candidates = listed.sameSize.filter { differences[$0.byteKey] == nil }.sorted { $0.byteKey < $1.byteKey }
            for (key, difference) in try await source.metadataDifferences(candidates) { differences[key] = difference }
            ownNotes.append("metadata: Content-Type, Content-Encoding, Cache-Control, Content-Disposition and x-amz-meta-* of \(candidates.count) object(s) on both sides compared (HEAD)")
        }
        return false
    }

    /// True when the check may stop: the listing alone already fails it.
    mutating func compareContent(budget: Int64?, reporter: CheckReporter) async throws -> Bool {
        let listingProblems = differences.values.filter { !$0.detail.hasPrefix("multipart") }.count
        if let budget, Int64(listingProblems) > budget {
            ownNotes.append("content was not hashed: the listing already shows more differences than the threshold allows")
            return true
        }
        // Every object on both sides with the same size: the listing cannot prove equal content.
        let common = listed.sameSize.sorted { $0.byteKey < $1.byteKey }
        let tally = ContentTally()
        let content = try await source.contentDifferences(common, tally: tally) { reporter.compared(Int64($0)) }
        for key in common { differences[key.byteKey] = content[key.byteKey] }
        ownNotes.append("content mode: of \(common.count) object(s) present on both sides with equal sizes, \(tally.summary) (\(options.concurrency) at a time); ETags and composite (per-part) checksums were not trusted")
        return false
    }

    func budgetUsed(_ scope: Int) -> Int64 { Int64(differences.count) }

    func needsRecheck(_ scope: Int) -> Bool { !differences.isEmpty }

    mutating func catchUp(before round: Int, timeout: Duration) async throws -> CatchUpOutcome {
        // Replication may still be copying what differed; S3 reports no position to wait for.
        try await Task.sleep(for: .seconds(1))
        return .caughtUp
    }

    mutating func recheck(_ scope: Int, round: Int, reporter: CheckReporter) async throws {
        let again = try await source.scan(collectSameSize: options.contentCheck || options.compareMetadata)
        let nowDiffering = again.differences
        var sameSizeNow: [ByteKey: String] = [:]
        for key in again.sameSize { sameSizeNow[key.byteKey] = key }
        var persisting: [ByteKey: ObjectStoreSource.KeyDifference] = [:]
        var hashAgain: [String] = []
        var metadataAgain: [String] = []
        for key in differences.keys {
            guard let difference = nowDiffering[key] else {
                if differences[key]?.detail.hasPrefix("metadata") == true, let name = sameSizeNow[key] {
                    metadataAgain.append(name)
                } else if options.contentCheck, let name = sameSizeNow[key] {
                    hashAgain.append(name)
                }
                continue
            }
            if options.contentCheck, difference.detail.hasPrefix("multipart"), let name = sameSizeNow[key] {
                hashAgain.append(name)
                continue
            }
            persisting[key] = difference
        }
        if !hashAgain.isEmpty {
            for (key, difference) in try await source.contentDifferences(hashAgain, progress: { _ in }) { persisting[key] = difference }
        }
        if !metadataAgain.isEmpty {
            for (key, difference) in try await source.metadataDifferences(metadataAgain) { persisting[key] = difference }
        }
        differences = persisting
    }

    func report(_ scope: Int, compared: Bool, rounds: Int, limit: Int) -> ScopeReport? {
        guard compared else { return nil }
        let count = { (kind: DiffKind) in Int64(differences.values.filter { $0.kind == kind }.count) }
        let result = TableCheckResult(table: label, status: differences.isEmpty ? .equal : .different, primaryRows: Int64(listed.primaryCount),
                                      drRows: Int64(listed.drCount), missing: count(.missing), extra: count(.extra), changed: count(.changed),
                                      segmentsCompared: (listed.primaryCount + 999) / 1000 + (listed.drCount + 999) / 1000,
                                      durationSeconds: Date().timeIntervalSince(started))
        let diffs = differences.sorted { $0.key < $1.key }.prefix(limit).map { key, difference in
            Diff(table: label, key: ObjectStoreSource.jsonKey(key.lossyString), kind: difference.kind, detail: difference.detail)
        }
        return ScopeReport(result: result, diffs: Array(diffs), differing: Int64(differences.count))
    }

    func notes(rounds: Int) -> [String] {
        ownNotes + (rounds > 1 ? ["differing objects were re-listed (and re-hashed in content mode) in up to \(rounds) rounds, 1 s apart; only what persisted is reported"] : [])
    }

    mutating func close() async {}
}
