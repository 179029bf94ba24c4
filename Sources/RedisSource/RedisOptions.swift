import RedisClient
import SyncCore

/// Redis-specific options of a source.
public struct RedisOptions: KindOptions, Equatable {
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

extension SourceKind {
    public static let redis = SourceKind(rawValue: "redis")
}

extension SourceConfig {
    public var redis: RedisOptions? {
        get { options as? RedisOptions }
        set { options = newValue }
    }
}

extension RedisSource {
    public static let descriptor = SourceDescriptor(
        kind: .redis,
        defaults: SourceDefaults(pollIntervalSeconds: 0.5, pollTimeoutSeconds: 5, lagBudgetSeconds: 5),
        optionKeys: ["mode", "databases", "heartbeat_key", "ttl_tolerance"],
        readEndpoint: { reader, node in
            let (endpoint, map) = try reader.endpoint(node, defaultPort: 6379, extra: [])
            if endpoint.user != nil, endpoint.password == nil, let user = map["user"] {
                throw reader.fail(user, "an ACL user needs a password (password: {env: NAME} or {file: PATH})")
            }
            return endpoint
        },
        readOptions: { reader, section in
            // No default: a promoted replica must not be mistaken for an independent DR instance.
            let mode = try reader.choice(try reader.required(section.keys, "mode", in: section.node), "mode", of: RedisOptions.Mode.self)
            var options = RedisOptions(mode: mode)
            if let node = section.keys["databases"] { options.databases = try reader.intList(node, range: 0...65535, what: "database") }
            options.heartbeatKey = try section.keys["heartbeat_key"].map(reader.string)
            if let node = section.keys["ttl_tolerance"] { options.ttlToleranceSeconds = try reader.duration(node) }
            return options
        },
        makeAdapter: { RedisSource(config: $0) })
}
