import Foundation
import SyncCore

/// What clients read besides the bytes: Content-Type, Content-Encoding, Cache-Control,
/// Content-Disposition and the user metadata (x-amz-meta-*). A copy without them serves the bytes
/// but breaks clients; listings and content hashes do not see it.
public struct ObjectMetadata: Sendable, Equatable {
    /// Lower-cased header name to value, only the compared headers. Names are keys read from the
    /// store (user metadata, tags), so they are held and compared as their bytes.
    public var fields: [ByteKey: String]
    /// The object's tags, when they were read (GetObjectTagging).
    public var tags: [ByteKey: String]?

    static let standard = ["content-type", "content-encoding", "cache-control", "content-disposition"]

    public init(headers: [String: String]) {
        var fields: [ByteKey: String] = [:]
        for (name, value) in headers where Self.standard.contains(name) || name.hasPrefix("x-amz-meta-") { fields[ByteKey(name)] = value }
        self.fields = fields
    }

    /// The headers a PUT (or a multipart upload's start) sends to carry them.
    public var requestHeaders: [String] {
        var headers = fields.sorted { $0.key < $1.key }.map { "\($0.key.lossyString): \($0.value)" }
        if let tags, !tags.isEmpty {
            let encoded = tags.sorted { $0.key < $1.key }.map {
                "\(S3Bucket.encode($0.key.lossyString, keepSlash: false))=\(S3Bucket.encode($0.value, keepSlash: false))"
            }
            headers.append("x-amz-tagging: " + encoded.joined(separator: "&"))
        }
        return headers
    }

    /// What differs, in words; nil when nothing does. Names and values are compared as bytes.
    public func difference(from copy: ObjectMetadata) -> String? {
        func compare(_ left: [ByteKey: String], _ right: [ByteKey: String], prefix: String) -> [String] {
            Set(left.keys).union(right.keys).sorted().compactMap { name -> String? in
                let (a, b) = (left[name], right[name])
                if let a, let b, a.sameBytes(as: b) { return nil }
                return "\(prefix)\(DisplayText.escape(name.lossyString)) \(a.map { "'\(DisplayText.escape($0))'" } ?? "(none)") vs \(b.map { "'\(DisplayText.escape($0))'" } ?? "(none)")"
            }
        }
        var differing = compare(fields, copy.fields, prefix: "")
        if let tags, let other = copy.tags { differing += compare(tags, other, prefix: "tag ") }
        return differing.isEmpty ? nil : "metadata: " + differing.joined(separator: ", ")
    }
}

extension ObjectStoreSource {
    /// Metadata of `keys` on both sides (HEAD, at most `concurrency` pairs at once); the keys whose
    /// metadata differs.
    func metadataDifferences(_ keys: [String]) async throws -> [ByteKey: KeyDifference] {
        let primary = self.primary
        let dr = self.dr
        return try await pairwise(keys) { key in
            async let left = primary.metadata(key)
            async let right = dr.metadata(key)
            async let leftTags = primary.tags(key)
            async let rightTags = dr.tags(key)
            let (headers, tags) = try await ((left, right), (leftTags, rightTags))
            // Gone meanwhile on either side: the listing says so.
            guard var source = headers.0, var copy = headers.1 else { return nil }
            (source.tags, copy.tags) = tags
            return source.difference(from: copy).map { KeyDifference(kind: .changed, detail: $0) }
        }
    }
}
