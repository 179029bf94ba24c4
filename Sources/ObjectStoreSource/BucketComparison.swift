import CurlClient
import Foundation
import SyncCore

/// How two listings of the same prefix differ, by key, size and ETag. Built pair by pair, so two
/// listings can be compared as they stream, and mergeable across disjoint key ranges.
public struct BucketComparison: Sendable {
    public var missing: [ObjectEntry] = []
    /// Present on both sides with different size or ETag.
    public var changed: [(primary: ObjectEntry, dr: ObjectEntry)] = []
    /// Same size, but at least one ETag is a multipart ETag (not a content hash) and they differ:
    /// a listing cannot tell whether the content is equal.
    public var unverifiable: [(primary: ObjectEntry, dr: ObjectEntry)] = []
    public var extra: [ObjectEntry] = []
    public var equal = 0
    public var primaryCount = 0
    public var drCount = 0
    /// Keys on both sides with equal sizes (what content mode hashes), when asked for.
    public var sameSize: [String] = []
    let collectSameSize: Bool

    public init(collectSameSize: Bool = false) {
        self.collectSameSize = collectSameSize
    }

    public mutating func add(_ primary: ObjectEntry?, _ dr: ObjectEntry?) {
        if primary != nil { primaryCount += 1 }
        if dr != nil { drCount += 1 }
        switch (primary, dr) {
        case (nil, nil): return
        case let (source?, nil): missing.append(source)
        case let (nil, copy?): extra.append(copy)
        case let (source?, copy?):
            if collectSameSize, source.size == copy.size { sameSize.append(source.key) }
            if source.size != copy.size {
                changed.append((source, copy))
            } else if source.etag == copy.etag {
                equal += 1
            } else if source.isMultipart || copy.isMultipart {
                unverifiable.append((source, copy))
            } else {
                changed.append((source, copy))
            }
        }
    }

    public mutating func merge(_ other: BucketComparison) {
        missing += other.missing
        changed += other.changed
        unverifiable += other.unverifiable
        extra += other.extra
        equal += other.equal
        primaryCount += other.primaryCount
        drCount += other.drCount
        sameSize += other.sameSize
    }

    /// Keyed by bytes: two keys that differ only in Unicode normalisation are two objects.
    public static func compare(primary: [ByteKey: ObjectEntry], dr: [ByteKey: ObjectEntry], collectSameSize: Bool = false) -> BucketComparison {
        var result = BucketComparison(collectSameSize: collectSameSize)
        for key in Set(primary.keys).union(dr.keys).sorted() { result.add(primary[key], dr[key]) }
        return result
    }

    /// What replication still has to copy, for lag: missing and changed objects, plus objects whose
    /// multipart ETags differ and whose DR copy is older than the primary's (a copy made after the
    /// primary's write carries its own part layout, so its ETag need not match).
    public var backlog: [ObjectEntry] {
        missing + changed.map(\.primary) + unverifiable.filter { $0.dr.lastModified < $0.primary.lastModified }.map(\.primary)
    }

    /// Every differing key with what differs.
    var differences: [ByteKey: ObjectStoreSource.KeyDifference] {
        var result: [ByteKey: ObjectStoreSource.KeyDifference] = [:]
        for entry in missing { result[entry.id] = ObjectStoreSource.difference(primary: entry, dr: nil) }
        for entry in extra { result[entry.id] = ObjectStoreSource.difference(primary: nil, dr: entry) }
        for pair in changed + unverifiable { result[pair.primary.id] = ObjectStoreSource.difference(primary: pair.primary, dr: pair.dr) }
        return result
    }
}

/// Compares two buckets without holding either listing: S3 lists keys in UTF-8 byte order, so
/// the two listings are merged page by page. The first level of "directories" (common prefixes
/// of `/`) is compared in parallel, `concurrency` at a time. A server that lists out of byte
/// order (SeaweedFS walks directories, so "a/b" may come before "a-c") is detected and that
/// prefix is compared in memory instead.
struct BucketScan {
    let primary: S3Bucket
    let dr: S3Bucket
    let concurrency: Int

    struct OutOfOrder: Error {}

    func compare(prefix: String, collectSameSize: Bool = false) async throws -> BucketComparison {
        async let primaryLevel = level(primary, prefix: prefix)
        async let drLevel = level(dr, prefix: prefix)
        let (left, right) = try await (primaryLevel, drLevel)
        var result = BucketComparison(collectSameSize: collectSameSize)
        let leftObjects = Dictionary(left.objects.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let rightObjects = Dictionary(right.objects.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        result.merge(BucketComparison.compare(primary: leftObjects, dr: rightObjects, collectSameSize: collectSameSize))
        // Prefixes by bytes too: "Ångström/" spelt in NFC and in NFD are two subtrees, each compared.
        var prefixes: [ByteKey: String] = [:]
        for prefix in left.prefixes + right.prefixes { prefixes[prefix.byteKey] = prefix }
        var pending = prefixes.keys.sorted().compactMap { prefixes[$0] }[...]
        try await withThrowingTaskGroup(of: BucketComparison.self) { group in
            var running = 0
            while true {
                while running < max(1, concurrency), let next = pending.popFirst() {
                    running += 1
                    group.addTask { try await compareSubtree(prefix: next, collectSameSize: collectSameSize) }
                }
                guard let partial = try await group.next() else { break }
                running -= 1
                result.merge(partial)
            }
        }
        return result
    }

    /// The objects directly under `prefix` and its sub-prefixes (delimiter "/").
    func level(_ bucket: S3Bucket, prefix: String) async throws -> (objects: [ObjectEntry], prefixes: [String]) {
        var objects: [ObjectEntry] = []
        var prefixes: [String] = []
        var token: String?
        repeat {
            let page = try await bucket.listPage(prefix: prefix, delimiter: "/", token: token)
            objects += page.entries
            prefixes += page.prefixes
            token = page.next
        } while token != nil
        return (objects, prefixes)
    }

    func compareSubtree(prefix: String, collectSameSize: Bool) async throws -> BucketComparison {
        do {
            return try await mergeListings(prefix: prefix, collectSameSize: collectSameSize)
        } catch is OutOfOrder {
            async let left = primary.listAll(prefix: prefix)
            async let right = dr.listAll(prefix: prefix)
            return BucketComparison.compare(primary: try await left, dr: try await right, collectSameSize: collectSameSize)
        }
    }

    /// Pages through one bucket's listing of a prefix, checking byte order.
    struct Cursor {
        let bucket: S3Bucket
        let prefix: String
        var page: [ObjectEntry] = []
        var index = 0
        var token: String?
        var finished = false
        var last: String?

        init(bucket: S3Bucket, prefix: String) {
            self.bucket = bucket
            self.prefix = prefix
        }

        mutating func current() async throws -> ObjectEntry? {
            while index >= page.count {
                if finished { return nil }
                let next = try await bucket.listPage(prefix: prefix, token: token)
                page = next.entries
                index = 0
                token = next.next
                finished = next.next == nil
            }
            let entry = page[index]
            if let last, !last.utf8.lexicographicallyPrecedes(entry.key.utf8) { throw OutOfOrder() }
            return entry
        }

        mutating func advance() {
            last = page[index].key
            index += 1
        }
    }

    func mergeListings(prefix: String, collectSameSize: Bool) async throws -> BucketComparison {
        var result = BucketComparison(collectSameSize: collectSameSize)
        var left = Cursor(bucket: primary, prefix: prefix)
        var right = Cursor(bucket: dr, prefix: prefix)
        while true {
            let l = try await left.current()
            let r = try await right.current()
            switch (l, r) {
            case (nil, nil):
                return result
            case let (source?, nil):
                result.add(source, nil)
                left.advance()
            case let (nil, copy?):
                result.add(nil, copy)
                right.advance()
            case let (source?, copy?):
                // Byte equality: Swift's == would equate canonically equivalent Unicode keys.
                if source.key.utf8.elementsEqual(copy.key.utf8) {
                    result.add(source, copy)
                    left.advance()
                    right.advance()
                } else if source.key.utf8.lexicographicallyPrecedes(copy.key.utf8) {
                    result.add(source, nil)
                    left.advance()
                } else {
                    result.add(nil, copy)
                    right.advance()
                }
            }
        }
    }
}
