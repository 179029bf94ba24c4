import Foundation

/// How two listings of the same prefix differ, by key, size and ETag.
public struct BucketComparison: Sendable {
    public var missing: [ObjectEntry] = []
    /// Present on both sides with different size or ETag (primary's entry).
    public var changed: [ObjectEntry] = []
    /// Same size, but at least one ETag is a multipart ETag (not a content hash) and they differ:
    /// a listing cannot tell whether the content is equal.
    public var unverifiable: [ObjectEntry] = []
    public var extra: [ObjectEntry] = []
    public var equal = 0
    public var primaryCount = 0
    public var drCount = 0

    public init() {}

    public static func compare(primary: [String: ObjectEntry], dr: [String: ObjectEntry]) -> BucketComparison {
        var result = BucketComparison()
        result.primaryCount = primary.count
        result.drCount = dr.count
        for (key, source) in primary {
            guard let copy = dr[key] else {
                result.missing.append(source)
                continue
            }
            if source.size != copy.size {
                result.changed.append(source)
            } else if source.etag == copy.etag {
                result.equal += 1
            } else if source.isMultipart || copy.isMultipart {
                result.unverifiable.append(source)
            } else {
                result.changed.append(source)
            }
        }
        result.extra = dr.values.filter { primary[$0.key] == nil }
        result.missing.sort { $0.key < $1.key }
        result.changed.sort { $0.key < $1.key }
        result.extra.sort { $0.key < $1.key }
        result.unverifiable.sort { $0.key < $1.key }
        return result
    }

    /// What replication still has to copy, for lag: missing and changed objects, plus objects whose
    /// multipart ETags differ and whose DR copy is older than the primary's (a copy made after the
    /// primary's write carries its own part layout, so its ETag need not match).
    public func backlog(dr: [String: ObjectEntry]) -> [ObjectEntry] {
        missing + changed + unverifiable.filter { source in (dr[source.key]?.lastModified ?? .distantPast) < source.lastModified }
    }
}
