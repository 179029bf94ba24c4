import Foundation
import Testing
@testable import ObjectStoreSource
@testable import SyncCore
import TestSupport

/// Every suite that uses the shared SeaweedFS clusters nests here, so they run one test at a time.
@Suite(.serialized) enum SeaweedClusters {}

/// The two SeaweedFS clusters started by integration/s3.sh. Addresses and the secret come from the
/// environment that script exports (`integration/s3.sh env`), defaulting to its fixed ports. When
/// they are not running, the tests fail with a message saying how to start them: they never skip.
enum TestS3 {
    static let environment = ProcessInfo.processInfo.environment
    static let primaryURL = environment["SYNCD_S3_PRIMARY"] ?? "http://127.0.0.1:28333"
    static let drURL = environment["SYNCD_S3_DR"] ?? "http://127.0.0.1:28433"
    static let access = environment["SYNCD_S3_ACCESS"] ?? "syncd-access"
    static let secret = environment["SYNCD_S3_SECRET"] ?? "syncd-demo-secret"
    /// The bucket weed filer.sync replicates from the primary to the DR cluster.
    static let replicatedBucket = environment["SYNCD_S3_SYNC_BUCKET"] ?? "replicated"

    static func endpoint(_ side: Side, bucket: String, secret: String? = nil, url: String? = nil) -> EndpointConfig {
        let address = url ?? (side == .primary ? primaryURL : drURL)
        let parsed = URLComponents(string: address)
        var endpoint = EndpointConfig(host: parsed?.host ?? "127.0.0.1", port: parsed?.port ?? 80, connectTimeoutSeconds: 2)
        endpoint.objectStore = ObjectStoreEndpoint(url: address, bucket: bucket, accessKey: Secret(access), secretKey: Secret(secret ?? self.secret))
        return endpoint
    }

    static func source(_ name: String, mode: ObjectStoreOptions.Mode, primaryBucket: String, drBucket: String, prefix: String = "",
                       contentCheck: Bool = false, primary: EndpointConfig? = nil, dr: EndpointConfig? = nil) -> SourceConfig {
        SourceConfig(name: name, kind: .objectStore, primary: primary ?? endpoint(.primary, bucket: primaryBucket),
                     dr: dr ?? endpoint(.dr, bucket: drBucket), pollIntervalSeconds: 0.5,
                     policy: GatePolicy(lagBudgetSeconds: 300, checkMaxAgeSeconds: 900, ratioThreshold: 0.99999, sampleMaxAgeSeconds: 10),
                     objectStore: ObjectStoreOptions(mode: mode, prefix: prefix, contentCheck: contentCheck, concurrency: 4,
                                                     multipartThreshold: 5 << 20, partSize: 5 << 20))
    }

    static func unique(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    static func bucket(_ side: Side, _ name: String) -> S3Bucket {
        S3Bucket(endpoint: endpoint(side, bucket: name), label: "test \(side)", concurrency: 4)
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
    static func put(_ bucket: S3Bucket, _ key: String, _ bytes: [UInt8], multipartThreshold: Int64 = 1 << 40) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-test-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await bucket.put(key, file: path, size: Int64(bytes.count), multipartThreshold: multipartThreshold, partSize: 5 << 20)
    }

    static func put(_ bucket: S3Bucket, _ key: String, _ text: String) async throws {
        try await put(bucket, key, Array(text.utf8))
    }

    static func script(_ arguments: String...) async throws {
        try await runIntegrationScript("s3.sh", arguments)
    }
}

func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws -> Bool {
    try await TestSupport.eventually(timeout: timeout, every: .milliseconds(200), condition)
}
