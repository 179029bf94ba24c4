import CurlClient
import Foundation
import SyncCore

/// Where one side's bucket lives and how to sign requests to it.
public struct ObjectStoreEndpoint: KindOptions, Equatable {
    /// The S3 endpoint, e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:8333.
    public var url: String
    public var bucket: String
    public var region: String
    public var accessKey: Secret?
    public var secretKey: Secret?
    /// Virtual-host addressing (https://bucket.host/key) instead of path style (https://host/bucket/key).
    public var virtualHost: Bool
    public var verifyTLS: Bool

    public init(url: String, bucket: String, region: String = "us-east-1", accessKey: Secret? = nil, secretKey: Secret? = nil,
                virtualHost: Bool = false, verifyTLS: Bool = true) {
        self.url = url
        self.bucket = bucket
        self.region = region
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.virtualHost = virtualHost
        self.verifyTLS = verifyTLS
    }
}

/// Object-store-specific options of a source.
public struct ObjectStoreOptions: KindOptions, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// The server's own replication (S3 replication, SeaweedFS filer.sync, ...) copies the bucket.
        case native
        /// syncd copies the bucket itself (GET from the primary, PUT to the DR side).
        case managed
    }
    public var mode: Mode
    /// Only keys under this prefix are replicated and checked.
    public var prefix: String
    /// Checks stream both sides through SHA-256 instead of trusting size + ETag.
    public var contentCheck: Bool
    /// Also compare Content-Type, Content-Encoding, Cache-Control, Content-Disposition and user metadata.
    public var compareMetadata = false
    /// Parallel transfers (copies, content hashes).
    public var concurrency: Int
    /// Objects at least this big are copied with multipart upload, in parts of `partSize`.
    public var multipartThreshold: Int64
    public var partSize: Int64

    public init(mode: Mode, prefix: String = "", contentCheck: Bool = false, concurrency: Int = 8,
                multipartThreshold: Int64 = 64 << 20, partSize: Int64 = 16 << 20) {
        self.mode = mode
        self.prefix = prefix
        self.contentCheck = contentCheck
        self.concurrency = concurrency
        self.multipartThreshold = multipartThreshold
        self.partSize = partSize
    }
}

extension SourceKind {
    public static let objectStore = SourceKind(rawValue: "s3")
}

extension SourceConfig {
    public var objectStore: ObjectStoreOptions? {
        get { options as? ObjectStoreOptions }
        set { options = newValue }
    }
}

extension EndpointConfig {
    public var objectStore: ObjectStoreEndpoint? {
        get { options as? ObjectStoreEndpoint }
        set { options = newValue }
    }
}

extension ObjectStoreSource {
    public static let descriptor = SourceDescriptor(
        kind: .objectStore,
        // An S3 poll lists the bucket, so it gets longer.
        defaults: SourceDefaults(pollIntervalSeconds: 5, pollTimeoutSeconds: 60, lagBudgetSeconds: 300),
        optionKeys: ["mode", "prefix", "content_check", "compare_metadata", "concurrency", "multipart_threshold", "part_size"],
        readEndpoint: { reader, node in try reader.objectStoreEndpoint(node) },
        readOptions: { reader, section in
            // No default: whether syncd writes to the DR bucket must be said, not guessed.
            let mode = try reader.choice(try reader.required(section.keys, "mode", in: section.node), "mode", of: ObjectStoreOptions.Mode.self)
            var options = ObjectStoreOptions(mode: mode)
            let map = section.keys
            if let node = map["prefix"] { options.prefix = try reader.string(node) }
            if let node = map["content_check"] { options.contentCheck = try reader.bool(node) }
            if let node = map["compare_metadata"] { options.compareMetadata = try reader.bool(node) }
            if let node = map["concurrency"] { options.concurrency = try reader.int(node, range: 1...256) }
            let smallestPart = "S3's smallest multipart part"
            if let node = map["multipart_threshold"] { options.multipartThreshold = try reader.byteSize(node, minimum: 5 << 20, why: smallestPart) }
            if let node = map["part_size"] { options.partSize = try reader.byteSize(node, minimum: 5 << 20, why: smallestPart) }
            return options
        },
        makeAdapter: { ObjectStoreSource(config: $0) })
}

extension ConfigReader {
    static let bucketCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789.-")

    func objectStoreEndpoint(_ at: ConfigNode) throws -> EndpointConfig {
        let map = try mapping(at, allowed: ["url", "bucket", "region", "access_key", "secret_key", "addressing", "tls_verify", "connect_timeout"])
        let urlNode = try required(map, "url", in: at)
        let urlText = try string(urlNode)
        guard let url = URL(string: urlText), let scheme = url.scheme, ["http", "https"].contains(scheme), let host = url.host, !host.isEmpty else {
            throw fail(urlNode, "expected an http:// or https:// URL, got '\(urlText)'")
        }
        let bucketNode = try required(map, "bucket", in: at)
        let bucket = try string(bucketNode)
        guard bucket.count >= 3, bucket.count <= 63, bucket.unicodeScalars.allSatisfy({ ConfigReader.bucketCharacters.contains($0) }) else {
            throw fail(bucketNode, "'\(bucket)' is not a valid bucket name (3-63 lowercase letters, digits, '.' and '-')")
        }
        var store = ObjectStoreEndpoint(url: urlText.hasSuffix("/") ? String(urlText.dropLast()) : urlText, bucket: bucket)
        if let node = map["region"] { store.region = try string(node) }
        store.accessKey = try map["access_key"].map(secret)
        store.secretKey = try map["secret_key"].map(secret)
        if let lone = map["access_key"] ?? map["secret_key"], (store.accessKey == nil) != (store.secretKey == nil) {
            throw fail(lone, "access_key and secret_key go together")
        }
        if let node = map["addressing"] {
            let text = try string(node)
            guard ["path", "virtual"].contains(text) else { throw fail(node, "unknown addressing '\(text)' (known: path, virtual)") }
            store.virtualHost = text == "virtual"
        }
        if let node = map["tls_verify"] { store.verifyTLS = try bool(node) }
        var endpoint = EndpointConfig(host: host, port: url.port ?? (scheme == "https" ? 443 : 80), options: store)
        if let node = map["connect_timeout"] { endpoint.connectTimeoutSeconds = try connectTimeout(node) }
        return endpoint
    }
}
