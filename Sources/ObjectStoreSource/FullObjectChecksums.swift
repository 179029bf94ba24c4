import Foundation
import SyncCore

/// The algorithms of S3's additional checksums, strongest first; the raw value names the
/// `x-amz-checksum-<name>` header.
public enum ChecksumAlgorithm: String, CaseIterable, Sendable {
    case sha256, sha1, crc64nvme, crc32c, crc32
}

/// The checksums a store keeps of an object's whole content (S3's additional checksums, read with
/// checksum mode on a HEAD). Only full-object values count: a composite checksum (a multipart
/// upload's checksum of its parts' checksums, `…-N`, or type COMPOSITE) depends on the part layout
/// like a multipart ETag, so equal content can carry different values.
public struct FullObjectChecksums: Sendable, Equatable {
    /// Base64 value by algorithm.
    public var values: [ChecksumAlgorithm: String]

    public init(values: [ChecksumAlgorithm: String]) {
        self.values = values
    }

    /// From a HEAD response's headers (lower-cased names). A single-part object's checksum is of its
    /// whole content; a multipart object's only when the store says FULL_OBJECT.
    public init(headers: [String: String], etag: String) {
        let type = headers["x-amz-checksum-type"]?.uppercased()
        let multipart = etag.contains("-")
        var values: [ChecksumAlgorithm: String] = [:]
        if type != "COMPOSITE", !multipart || type == "FULL_OBJECT" {
            for algorithm in ChecksumAlgorithm.allCases {
                guard let value = headers["x-amz-checksum-\(algorithm.rawValue)"]?.trimmingCharacters(in: .whitespaces), !value.isEmpty,
                      !value.contains("-") else { continue }
                values[algorithm] = value
            }
        }
        self.values = values
    }

    public var isEmpty: Bool { values.isEmpty }

    /// Equal content (true), different content (false), or nil when the two share no algorithm.
    /// Every algorithm both have must agree.
    public static func sameContent(_ lhs: FullObjectChecksums, _ rhs: FullObjectChecksums) -> (same: Bool, algorithm: ChecksumAlgorithm)? {
        let shared = ChecksumAlgorithm.allCases.filter { lhs.values[$0] != nil && rhs.values[$0] != nil }
        guard let strongest = shared.first else { return nil }
        if let differing = shared.first(where: { lhs.values[$0] != rhs.values[$0] }) { return (false, differing) }
        return (true, strongest)
    }
}
