import Foundation
import SyncCore

/// What clients read besides the bytes: Content-Type, Content-Encoding, Cache-Control,
/// Content-Disposition and the user metadata (x-amz-meta-*). A copy without them serves the bytes
/// but breaks clients; listings and content hashes do not see it.
public struct ObjectMetadata: Sendable, Equatable {
    /// Lower-cased header name to value, only the compared headers.
    public var fields: [String: String]

    static let standard = ["content-type", "content-encoding", "cache-control", "content-disposition"]

    public init(headers: [String: String]) {
        fields = headers.filter { Self.standard.contains($0.key) || $0.key.hasPrefix("x-amz-meta-") }
    }

    /// The headers a PUT (or a multipart upload's start) sends to carry them.
    public var requestHeaders: [String] {
        fields.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
    }

    /// What differs, in words; nil when nothing does. Values are compared as bytes.
    public func difference(from copy: ObjectMetadata) -> String? {
        let names = Set(fields.keys).union(copy.fields.keys).sorted()
        let differing = names.compactMap { name -> String? in
            let (left, right) = (fields[name], copy.fields[name])
            if let left, let right, left.sameBytes(as: right) { return nil }
            return "\(name) \(left.map { "'\(DisplayText.escape($0))'" } ?? "(none)") vs \(right.map { "'\(DisplayText.escape($0))'" } ?? "(none)")"
        }
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
            let (source, copy) = try await (left, right)
            // Gone meanwhile on either side: the listing says so.
            guard let source, let copy else { return nil }
            return source.difference(from: copy).map { KeyDifference(kind: .changed, detail: $0) }
        }
    }
}
