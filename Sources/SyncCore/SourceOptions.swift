import Foundation

public struct PostgresOptions: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        case auto, physical, logical
    }
    public var mode: Mode
    /// The subscription on the DR side (logical mode). Optional when the DR database has exactly one.
    public var subscription: String?
    /// Tables to check (schema.table or table); nil means every table of `schemas`.
    public var tables: [String]?
    public var schemas: [String]

    public init(mode: Mode = .auto, subscription: String? = nil, tables: [String]? = nil, schemas: [String] = ["public"]) {
        self.mode = mode
        self.subscription = subscription
        self.tables = tables
        self.schemas = schemas
    }
}

/// Redis-specific options of a source.
public struct RedisOptions: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// The DR instance is a native replica (REPLICAOF) of the primary.
        case replica
        /// The DR instance is a writable master kept in sync by another tool or by syncd's own full sync.
        case independent
    }
    public var mode: Mode
    /// Logical databases to check (SELECT n); replication carries them all.
    public var databases: [Int]
    /// The opt-in heartbeat key (the one write syncd makes to a Redis primary); nil = off.
    public var heartbeatKey: String?
    /// TTLs read on the two sides may differ by this much before they count as different.
    public var ttlToleranceSeconds: Double

    public static let defaultTTLToleranceSeconds: Double = 2

    public init(mode: Mode, databases: [Int] = [0], heartbeatKey: String? = nil,
                ttlToleranceSeconds: Double = RedisOptions.defaultTTLToleranceSeconds) {
        self.mode = mode
        self.databases = databases
        self.heartbeatKey = heartbeatKey
        self.ttlToleranceSeconds = ttlToleranceSeconds
    }
}

/// Where one side's bucket lives and how to sign requests to it.
public struct ObjectStoreEndpoint: Sendable, Equatable {
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
public struct ObjectStoreOptions: Sendable, Equatable {
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

/// Kafka-specific options of a source.
public struct KafkaOptions: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        /// syncd's built-in mirror copies the topics (consume source, produce DR).
        case mirror
        /// An external MirrorMaker 2 copies them; syncd observes and checks.
        case mirrormaker2
    }
    public enum Policy: String, Sendable, CaseIterable {
        /// The DR topic has the source topic's name.
        case identity
        /// MirrorMaker 2's DefaultReplicationPolicy: `<source_alias><separator><topic>`.
        case mirrormaker2
    }
    public enum Cluster: String, Sendable, CaseIterable { case primary, dr }

    public var mode: Mode
    /// Topics to mirror and check; or every non-internal topic matching `topicPattern`.
    public var topics: [String]?
    public var topicPattern: String?
    public var policy: Policy
    public var sourceAlias: String
    public var separator: String
    /// Where the source→DR offset mapping is recorded (MirrorMaker 2's offset syncs, or the mirror's own).
    public var offsetSyncsTopic: String
    public var offsetSyncsCluster: Cluster
    /// Records per produce batch of the built-in mirror.
    public var batchSize: Int
    public var compression: String

    public static let defaultBatchSize = 500

    public init(mode: Mode, topics: [String]? = nil, topicPattern: String? = nil, policy: Policy? = nil, sourceAlias: String = "primary",
                separator: String = ".", offsetSyncsTopic: String? = nil, offsetSyncsCluster: Cluster? = nil, sourceName: String,
                batchSize: Int = KafkaOptions.defaultBatchSize, compression: String = "lz4", targetAlias: String = "dr") {
        self.mode = mode
        self.topics = topics
        self.topicPattern = topicPattern
        self.policy = policy ?? (mode == .mirror ? .identity : .mirrormaker2)
        self.sourceAlias = sourceAlias
        self.separator = separator
        // MirrorMaker 2 keeps its offset syncs on the source cluster by default; the mirror keeps its own on the DR side.
        self.offsetSyncsTopic = offsetSyncsTopic ?? (mode == .mirror ? "syncd-offset-syncs.\(sourceName).internal" : "mm2-offset-syncs.\(targetAlias).internal")
        self.offsetSyncsCluster = offsetSyncsCluster ?? (mode == .mirror ? .dr : .primary)
        self.batchSize = batchSize
        self.compression = compression
    }
}
