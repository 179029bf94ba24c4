import CurlClient
import Foundation
import SyncCore

extension ObjectStoreSource {
    /// How one key differs after a round, or nil when it does not.
    struct KeyDifference: Sendable, Equatable {
        var kind: DiffKind
        var detail: String
    }

    static func difference(primary: ObjectEntry?, dr: ObjectEntry?) -> KeyDifference? {
        switch (primary, dr) {
        case (nil, nil): return nil
        case (_?, nil): return KeyDifference(kind: .missing, detail: "not on the DR side")
        case (nil, _?): return KeyDifference(kind: .extra, detail: "only on the DR side")
        case let (source?, copy?):
            if source.size != copy.size { return KeyDifference(kind: .changed, detail: "size \(source.size) vs \(copy.size)") }
            if source.etag == copy.etag { return nil }
            if source.isMultipart || copy.isMultipart {
                return KeyDifference(kind: .changed, detail: "multipart ETag \(source.etag) vs \(copy.etag): not a content hash, content unknown (content_check: true compares content)")
            }
            return KeyDifference(kind: .changed, detail: "ETag \(source.etag) vs \(copy.etag)")
        }
    }

    /// Compares the content of both sides for `keys`; returns the keys whose content differs.
    /// First, where both sides keep a full-object checksum of a shared algorithm (HEAD with
    /// checksum mode), those settle the key and no byte travels: HEADs carry no body, so
    /// `checksumFanOut` times `concurrency` pairs are asked at once. Once `ContentTally.probeLimit`
    /// pairs in a row settled nothing, the stores are taken to keep no usable checksums and are not
    /// asked again. The rest are streamed through SHA-256 on both sides, `concurrency` pairs at once.
    func contentDifferences(_ keys: [String], tally: ContentTally = ContentTally(),
                            progress: @escaping @Sendable (Int) -> Void) async throws -> [ByteKey: KeyDifference] {
        let primary = self.primary
        let dr = self.dr
        let settledKeys = KeySet()
        var found = try await pairwise(keys, width: options.concurrency * Self.checksumFanOut) { key in
            guard tally.worthAsking else { return nil }
            async let left = primary.fullObjectChecksums(key)
            async let right = dr.fullObjectChecksums(key)
            let sides = try await (left, right)
            guard let source = sides.0, let copy = sides.1 else {
                guard sides.0 != nil || sides.1 != nil else { return nil } // gone from both: the stream pass says so too
                settledKeys.insert(key)
                progress(1)
                return Self.presence(sides.0 != nil, sides.1 != nil)
            }
            guard let verdict = FullObjectChecksums.sameContent(source, copy) else {
                tally.unsettled()
                return nil
            }
            tally.settled(by: verdict.algorithm)
            settledKeys.insert(key)
            progress(1)
            return verdict.same ? nil : KeyDifference(kind: .changed, detail: "content differs (\(verdict.algorithm.rawValue) full-object checksum)")
        }
        let rest = keys.filter { !settledKeys.contains($0) }
        let streamed = try await pairwise(rest, progress: progress) { key in
            tally.hashed()
            async let left = primary.contentHash(key)
            async let right = dr.contentHash(key)
            let (a, b) = try await (left, right)
            guard let a, let b else { return Self.presence(a != nil, b != nil) }
            return a == b ? nil : KeyDifference(kind: .changed, detail: "content differs (SHA-256)")
        }
        found.merge(streamed) { _, streamed in streamed }
        return found
    }

    /// How many more checksum HEADs than transfers run at once (a HEAD moves no body).
    static let checksumFanOut = 4

    static func presence(_ onPrimary: Bool, _ onDR: Bool) -> KeyDifference? {
        switch (onPrimary, onDR) {
        case (true, false): KeyDifference(kind: .missing, detail: "not on the DR side")
        case (false, true): KeyDifference(kind: .extra, detail: "only on the DR side")
        default: nil
        }
    }

    /// Runs `compare` for every key, at most `concurrency` at once; the keys it found differing.
    func pairwise(_ keys: [String], width: Int? = nil, progress: @escaping @Sendable (Int) -> Void = { _ in },
                  _ compare: @escaping @Sendable (String) async throws -> KeyDifference?) async throws -> [ByteKey: KeyDifference] {
        var found: [ByteKey: KeyDifference] = [:]
        var pending = keys[...]
        let width = width ?? options.concurrency
        try await withThrowingTaskGroup(of: (String, KeyDifference?).self) { group in
            var running = 0
            while true {
                while running < width, let key = pending.popFirst() {
                    running += 1
                    group.addTask { (key, try await compare(key)) }
                }
                guard let (key, difference) = try await group.next() else { break }
                running -= 1
                progress(1)
                if let difference { found[key.byteKey] = difference }
            }
        }
        return found
    }

    public func check(_ checkOptions: CheckOptions, progress: @escaping @Sendable (CheckProgress) -> Void) async throws -> CheckResult {
        var strategy = ObjectStoreCheck(source: self, checkOptions: checkOptions)
        return try await CheckEngine.run(&strategy, source: name, threshold: config.policy.ratioThreshold, options: checkOptions, progress: progress)
    }

    static func jsonKey(_ key: String) -> JSONValue { .object(["key": .string(key)]) }

    static func objectKey(_ value: JSONValue) -> String? {
        if case let .object(fields) = value, case let .string(key)? = fields["key"] { return key }
        return nil
    }

    // MARK: reconcile

    static let reconcileBatchSize = 100

    /// Exactly what differs now: the listing's differences, and the check's differences that a listing
    /// cannot see (content) only while they still differ. Objects the content check proved equal are
    /// not copied; in listing mode an object whose multipart ETag differs is copied once, with the
    /// primary's part layout, after which the ETags match. So a second apply copies nothing.
    public func planReconcile(from check: CheckResult) async throws -> ReconcilePlan {
        let comparison = try await scan()
        var upserts: [ByteKey: String] = [:]
        for entry in comparison.missing + comparison.changed.map(\.primary) { upserts[entry.id] = entry.key }
        let fromCheck = check.diffs.filter { $0.kind != .extra }.compactMap { Self.objectKey($0.key) }
        let checked = Set(fromCheck.map(\.byteKey))
        for pair in comparison.unverifiable {
            // Content mode settled these: copied only when the check found them differing or the
            // primary wrote the object after the check began.
            if !options.contentCheck || checked.contains(pair.primary.id) || pair.primary.lastModified > check.startedAt {
                upserts[pair.primary.id] = pair.primary.key
            }
        }
        let extras = Set(comparison.extra.map(\.id))
        // Content differences are invisible to a listing: those still differing by content are copied.
        let unverifiable = Set(comparison.unverifiable.map(\.primary.id))
        let contentOnly = fromCheck.filter { upserts[$0.byteKey] == nil && !extras.contains($0.byteKey) && !unverifiable.contains($0.byteKey) }
        if !contentOnly.isEmpty {
            for (key, difference) in try await contentDifferences(contentOnly, progress: { _ in }) where difference.kind != .extra {
                upserts[key] = key.lossyString
            }
            // Metadata differences are invisible to content too: those still differing are copied (with it).
            if options.compareMetadata {
                for (key, _) in try await metadataDifferences(contentOnly.filter { upserts[$0.byteKey] == nil }) { upserts[key] = key.lossyString }
            }
        }
        let upsertKeys = upserts.keys.sorted().compactMap { upserts[$0] }
        let deletes = comparison.extra.sorted { $0.id < $1.id }.map(\.key)
        let bucket = primary.store.bucket
        var batches: [ReconcileBatch] = []
        for chunk in upsertKeys.chunks(of: Self.reconcileBatchSize) {
            batches.append(ReconcileBatch(table: bucket, number: batches.count + 1, upsertKeys: chunk.map(Self.jsonKey), deleteKeys: [],
                                          statements: chunk.map { "COPY \(primary.store.url)/\(bucket)/\(DisplayText.escape($0)) -> \(dr.store.url)/\(dr.store.bucket)/\(DisplayText.escape($0))" }))
        }
        for chunk in deletes.chunks(of: Self.reconcileBatchSize) {
            batches.append(ReconcileBatch(table: bucket, number: batches.count + 1, upsertKeys: [], deleteKeys: chunk.map(Self.jsonKey),
                                          statements: chunk.map { "DELETE \(dr.store.url)/\(dr.store.bucket)/\(DisplayText.escape($0))" }))
        }
        var notes = ["objects are copied as the primary has them at apply time (GET, then PUT; a multipart object in the primary's own part layout, so both ETags match); repeating the apply converges"]
        if !deletes.isEmpty { notes.append("objects only on the DR side are deleted only with --delete (each after checking the primary still lacks it)") }
        if check.diffsTruncated { notes.append("the check listed only its first \(check.diffs.count) differences: content differences beyond those are not in this plan (verify with a larger --max-diffs)") }
        return ReconcilePlan(source: name, basedOnCheck: check.finishedAt, batches: batches, notes: notes, words: .objectStore)
    }

    /// Objects only in the DR bucket are deleted only when the operator asks (`--delete`).
    public func planReconcile(from check: CheckResult, deleteExtras: Bool) async throws -> ReconcilePlan {
        let plan = try await planReconcile(from: check)
        guard !deleteExtras, plan.deletes > 0 else { return plan }
        let batches = plan.batches.filter { !$0.upsertKeys.isEmpty }.map { batch in
            var copy = batch
            copy.deleteKeys = []
            return copy
        }
        return ReconcilePlan(source: plan.source, basedOnCheck: plan.basedOnCheck, batches: batches,
                             notes: plan.notes + ["\(plan.deletes) object(s) only on the DR side are kept: pass --delete to delete them"],
                             words: plan.words)
    }

    public func applyReconcile(_ plan: ReconcilePlan) async throws -> ReconcileOutcome {
        let started = Date()
        func keys(_ values: [JSONValue]) -> [String] { values.compactMap(Self.objectKey) }
        var copied = 0
        var deleted = 0
        var touched: [String] = []
        for batch in plan.batches {
            let upserts = keys(batch.upsertKeys)
            if !upserts.isEmpty {
                let outcome = await copier.copy(upserts)
                if let first = outcome.failures.first {
                    throw SyncError.failed("\(outcome.failures.count) object(s) of batch \(batch.number) could not be copied, e.g. \(first)")
                }
                copied += outcome.copied
            }
            for key in keys(batch.deleteKeys) where try await primary.head(key) == nil {
                try await dr.delete(key)
                deleted += 1
            }
            touched += upserts + keys(batch.deleteKeys)
        }
        // Re-verify what was touched, by HEAD (and content in content mode).
        var still = 0
        for key in touched {
            let source = try await primary.head(key)?.entry
            let copy = try await dr.head(key)?.entry
            if let difference = Self.difference(primary: source, dr: copy) {
                // Equal content under different multipart ETags is equal: only the content can tell.
                if difference.detail.hasPrefix("multipart"), try await contentDifferences([key], progress: { _ in }).isEmpty { continue }
                still += 1
            } else if options.contentCheck, source != nil {
                still += try await contentDifferences([key], progress: { _ in }).count
            }
        }
        return ReconcileOutcome(source: name, batchesApplied: plan.batches.count, rowsUpserted: copied, rowsDeleted: deleted,
                                stillDiffering: still, durationSeconds: Date().timeIntervalSince(started))
    }
}

/// How a content comparison settled its keys: by which full-object checksum, or by streaming.
final class ContentTally: @unchecked Sendable {
    /// Pairs in a row that settled nothing before the stores are no longer asked for checksums.
    static let probeLimit = 64
    private let lock = NSLock()
    private var byAlgorithm: [ChecksumAlgorithm: Int] = [:]
    private var unsettledInARow = 0
    private var streamed = 0

    var worthAsking: Bool { lock.withLock { unsettledInARow < Self.probeLimit } }

    func settled(by algorithm: ChecksumAlgorithm) {
        lock.withLock {
            byAlgorithm[algorithm, default: 0] += 1
            unsettledInARow = 0
        }
    }

    func unsettled() { lock.withLock { unsettledInARow += 1 } }
    func hashed() { lock.withLock { streamed += 1 } }

    /// "N by sha256 checksum, M streamed through SHA-256".
    var summary: String {
        lock.withLock {
            let parts = ChecksumAlgorithm.allCases.compactMap { algorithm in
                byAlgorithm[algorithm].map { "\($0) by their \(algorithm.rawValue) full-object checksums" }
            }
            return (parts + ["\(streamed) streamed through SHA-256 on both sides"]).joined(separator: ", ")
        }
    }
}

/// Keys (by their bytes) that concurrent tasks add to.
final class KeySet: @unchecked Sendable {
    private let lock = NSLock()
    private var keys: Set<ByteKey> = []

    func insert(_ key: String) { _ = lock.withLock { keys.insert(key.byteKey) } }
    func contains(_ key: String) -> Bool { lock.withLock { keys.contains(key.byteKey) } }
}
