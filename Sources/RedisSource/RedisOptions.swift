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
        readEndpoint: { reader, node in try reader.redisEndpoint(node) },
        readOptions: { reader, section in
            // No default: a promoted replica must not be mistaken for an independent DR instance.
            let mode = try reader.choice(try reader.required(section.keys, "mode", in: section.node), "mode", of: RedisOptions.Mode.self)
            var options = RedisOptions(mode: mode)
            if let node = section.keys["databases"] { options.databases = try reader.intList(node, range: 0...65535, what: "database") }
            options.heartbeatKey = try section.keys["heartbeat_key"].map(reader.string)
            try reader.requireClusterRules(section, mode: mode, databases: options.databases)
            if let node = section.keys["ttl_tolerance"] { options.ttlToleranceSeconds = try reader.duration(node) }
            return options
        },
        makeAdapter: { RedisSource(config: $0) })
}

/// One Redis server's address; hosts compare as their bytes, as the servers name them.
public struct RedisAddress: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var text: String { "\(host):\(port)" }

    public static func == (lhs: RedisAddress, rhs: RedisAddress) -> Bool {
        lhs.port == rhs.port && lhs.host.sameBytes(as: rhs.host)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(host.byteKey)
        hasher.combine(port)
    }
}

/// A side reached through Redis Sentinel: the sentinels name the current master of `masterName`.
public struct SentinelOptions: KindOptions, Equatable {
    public var sentinels: [RedisAddress]
    public var masterName: String
    /// Sentinels may require their own credentials (sentinel `requirepass` / ACL).
    public var user: String?
    public var password: Secret?
}

/// A side that is a Redis Cluster: the configured host and port, then `seeds`, are asked for the
/// slot map; every master is read and written by slot.
public struct RedisClusterOptions: KindOptions, Equatable {
    /// The configured node first.
    public var seeds: [RedisAddress]
}

extension EndpointConfig {
    /// Set when this Redis side is found through Sentinel instead of a fixed host and port.
    public var sentinel: SentinelOptions? { options as? SentinelOptions }
    /// Set when this Redis side is a cluster.
    public var cluster: RedisClusterOptions? { options as? RedisClusterOptions }
}

extension ConfigReader {
    func redisEndpoint(_ at: ConfigNode) throws -> EndpointConfig {
        let map = try mapping(at, allowed: ["host", "port", "user", "password", "connect_timeout",
                                            "sentinels", "master_name", "sentinel_user", "sentinel_password", "cluster", "seeds"])
        if let clusterNode = map["cluster"], map["sentinels"] != nil {
            throw fail(clusterNode, "'cluster' and 'sentinels' exclude each other: a Redis Cluster has no Sentinel")
        }
        var endpoint: EndpointConfig
        if let sentinelsNode = map["sentinels"] {
            for fixed in ["host", "port"] where map[fixed] != nil {
                throw fail(map[fixed]!, "'\(fixed)' and 'sentinels' exclude each other: the sentinels say where the master is")
            }
            let texts = try stringList(sentinelsNode)
            let addresses = try texts.map { text -> RedisAddress in
                let (host, port) = try hostPort(text, at: sentinelsNode)
                return RedisAddress(host: host, port: port)
            }
            if Set(addresses).count != addresses.count { throw fail(sentinelsNode, "a sentinel is listed twice") }
            let name = try string(try required(map, "master_name", in: at))
            guard !name.isEmpty else { throw fail(map["master_name"]!, "master_name is empty") }
            var options = SentinelOptions(sentinels: addresses, masterName: name)
            options.user = try map["sentinel_user"].map(string)
            options.password = try map["sentinel_password"].map(secret)
            if let userNode = map["sentinel_user"], options.password == nil {
                throw fail(userNode, "a sentinel user needs a password (sentinel_password: {env: NAME} or {file: PATH})")
            }
            // Until a sentinel answers, the side is named by its master name (never connected to).
            endpoint = EndpointConfig(host: "sentinel:\(name)", port: addresses[0].port)
            endpoint.options = options
        } else {
            for key in ["master_name", "sentinel_user", "sentinel_password"] where map[key] != nil {
                throw fail(map[key]!, "'\(key)' only applies with 'sentinels'")
            }
            endpoint = EndpointConfig(host: try string(try required(map, "host", in: at)), port: 6379)
            endpoint.port = try map["port"].map { try int($0, range: 1...65535) } ?? 6379
            let isCluster = try map["cluster"].map(bool) ?? false
            if let seedsNode = map["seeds"] {
                guard isCluster else { throw fail(seedsNode, "'seeds' only applies with 'cluster: true'") }
            }
            if isCluster {
                var seeds = [RedisAddress(host: endpoint.host, port: endpoint.port)]
                if let seedsNode = map["seeds"] {
                    for text in try stringList(seedsNode) {
                        let (host, port) = try hostPort(text, at: seedsNode)
                        let seed = RedisAddress(host: host, port: port)
                        if seeds.contains(seed) { throw fail(seedsNode, "seed \(text) is listed twice (the host and port are the first seed)") }
                        seeds.append(seed)
                    }
                }
                endpoint.options = RedisClusterOptions(seeds: seeds)
            }
        }
        endpoint.user = try map["user"].map(string)
        endpoint.password = try map["password"].map(secret)
        if let node = map["connect_timeout"] { endpoint.connectTimeoutSeconds = try connectTimeout(node) }
        if endpoint.user != nil, endpoint.password == nil, let user = map["user"] {
            throw fail(user, "an ACL user needs a password (password: {env: NAME} or {file: PATH})")
        }
        return endpoint
    }
}

extension ConfigReader {
    /// A cluster side holds database 0 only, and two clusters share no replication stream.
    func requireClusterRules(_ section: SourceSection, mode: RedisOptions.Mode, databases: [Int]) throws {
        let all = try mapping(section.node, allowed: nil)
        for side in ["primary", "dr"] {
            // A side that is no mapping, or whose cluster key is no boolean, is reported where the side is read.
            guard let sideNode = all[side], let sideMap = try? mapping(sideNode, allowed: nil),
                  let clusterNode = sideMap["cluster"], (try? bool(clusterNode)) == true else { continue }
            if mode != .independent {
                throw fail(section.keys["mode"] ?? section.node, "a pair with a cluster side must be mode: independent (Redis has no replication into or out of a cluster; a tool such as RedisShake, or syncd's full sync, keeps it)")
            }
            if databases != [0] {
                throw fail(section.keys["databases"] ?? section.node, "a Redis Cluster has database 0 only: databases must be [0] when \(side) is a cluster")
            }
        }
    }
}
