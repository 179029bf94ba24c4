import Foundation
import Testing
@testable import ObjectStoreSource
@testable import SyncCore
import TestSupport

/// Every suite that uses the shared SeaweedFS clusters nests here, so they run one test at a time.
@Suite(.serialized) enum SeaweedClusters {}

/// The two SeaweedFS clusters of integration/s3.sh (located by TestSupport's IntegrationServers),
/// as the object-store tests use them.
enum TestS3 {
    typealias Servers = IntegrationServers.S3
    static let primaryURL = Servers.primaryURL
    static let drURL = Servers.drURL
    static let access = Servers.access
    static let secret = Servers.secret
    static let replicatedBucket = Servers.replicatedBucket

    static func endpoint(_ side: Side, bucket: String, access: String? = nil, secret: String? = nil, url: String? = nil) -> EndpointConfig {
        var endpoint = Servers.endpoint(side, url: url)
        endpoint.objectStore = ObjectStoreEndpoint(url: url ?? Servers.url(side), bucket: bucket, accessKey: Secret(access ?? self.access),
                                                   secretKey: Secret(secret ?? self.secret))
        return endpoint
    }

    static func source(_ name: String, mode: ObjectStoreOptions.Mode, primaryBucket: String, drBucket: String, prefix: String = "",
                       contentCheck: Bool = false, primary: EndpointConfig? = nil, dr: EndpointConfig? = nil) -> SourceConfig {
        SourceConfig(name: name, kind: .objectStore, primary: primary ?? endpoint(.primary, bucket: primaryBucket),
                     dr: dr ?? endpoint(.dr, bucket: drBucket), pollIntervalSeconds: 0.5,
                     pollTimeoutSeconds: ObjectStoreSource.descriptor.defaults.pollTimeoutSeconds,
                     policy: IntegrationServers.policy(lagBudget: 300),
                     options: ObjectStoreOptions(mode: mode, prefix: prefix, contentCheck: contentCheck, concurrency: 4,
                                                     multipartThreshold: 5 << 20, partSize: 5 << 20))
    }

    static func unique(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    static func bucket(_ side: Side, _ name: String) -> S3Bucket {
        S3Bucket(endpoint: endpoint(side, bucket: name), label: "test \(side)", concurrency: 4)
    }

    /// A new, empty bucket on each side, named from `prefix` (`sameName`: one name on both sides).
    static func bucketPair(_ prefix: String, sameName: Bool = false) async throws -> (source: String, target: String, primary: S3Bucket, dr: S3Bucket) {
        let source = unique(prefix), target = sameName ? source : unique("\(prefix)-dr")
        return (source, target, try await makeBucket(.primary, source), try await makeBucket(.dr, target))
    }

    /// A new bucket on one side.
    static func makeBucket(_ side: Side, _ name: String) async throws -> S3Bucket {
        let bucket = bucket(side, name)
        do {
            try await bucket.createBucket()
        } catch {
            throw TestSetupError("cannot create bucket \(name) on the \(side) SeaweedFS cluster: \(error). Start them with: integration/s3.sh start")
        }
        return bucket
    }

    /// Writes `bytes` as an object (multipart when at least `multipartThreshold`).
    static func put(_ bucket: S3Bucket, _ key: String, _ bytes: [UInt8], multipartThreshold: Int64 = 1 << 40,
                    headers: [String: String] = [:], tags: [String: String]? = nil) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-test-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await bucket.put(key, file: path, size: Int64(bytes.count), multipartThreshold: multipartThreshold, partSize: 5 << 20,
                             metadata: headers.isEmpty && tags == nil ? nil : {
                                 var metadata = ObjectMetadata(headers: headers)
                                 metadata.tags = tags.map { Dictionary(uniqueKeysWithValues: $0.map { (ByteKey($0.key), $0.value) }) }
                                 return metadata
                             }())
    }

    static func put(_ bucket: S3Bucket, _ key: String, _ text: String) async throws {
        try await put(bucket, key, Array(text.utf8))
    }

    static func script(_ arguments: String...) async throws {
        try await Servers.script(arguments)
    }
}
