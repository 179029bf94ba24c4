import Foundation
import Yams

/// A secret value read from the environment or a file. It never prints itself.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

public struct EndpointConfig: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: Secret?
    public var database: String?
    public var connectTimeoutSeconds: Int
    public var sslmode: String?
    /// Kafka: the bootstrap broker list ("h1:9092,h2:9092"); host/port name its first broker.
    public var bootstrap: String?
    /// Kafka: SASL mechanism when `user` is set (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).
    public var saslMechanism: String?
    /// Kafka: connect with TLS (certificates verified).
    public var tls: Bool = false
    /// Object store: the S3 endpoint and bucket.
    public var objectStore: ObjectStoreEndpoint?

    public init(host: String, port: Int, user: String? = nil, password: Secret? = nil, database: String? = nil,
                connectTimeoutSeconds: Int = 5, sslmode: String? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.sslmode = sslmode
    }
}

/// PostgreSQL-specific options of a source.
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

public struct SourceConfig: Sendable, Equatable {
    public var name: String
    public var kind: SourceKind
    public var primary: EndpointConfig
    public var dr: EndpointConfig
    public var pollIntervalSeconds: Double
    /// A poll that has not answered by then makes the source unreachable.
    public var pollTimeoutSeconds: Double
    public var policy: GatePolicy
    public var postgres: PostgresOptions?
    public var redis: RedisOptions?
    public var kafka: KafkaOptions?
    public var objectStore: ObjectStoreOptions?

    public init(name: String, kind: SourceKind, primary: EndpointConfig, dr: EndpointConfig,
                pollIntervalSeconds: Double, pollTimeoutSeconds: Double? = nil, policy: GatePolicy, postgres: PostgresOptions? = nil,
                redis: RedisOptions? = nil, kafka: KafkaOptions? = nil, objectStore: ObjectStoreOptions? = nil) {
        self.name = name
        self.kind = kind
        self.primary = primary
        self.dr = dr
        self.pollIntervalSeconds = pollIntervalSeconds
        self.pollTimeoutSeconds = pollTimeoutSeconds ?? kind.defaultPollTimeout
        self.policy = policy
        self.postgres = postgres
        self.redis = redis
        self.kafka = kafka
        self.objectStore = objectStore
    }
}

public struct SyncdConfig: Sendable, Equatable {
    public var file: String
    public var listenHost: String
    public var listenPort: Int
    public var readToken: Secret
    public var adminToken: Secret
    public var journalPath: String
    /// Samples kept per source (a ring buffer).
    public var historySize: Int
    public var sources: [SourceConfig]

    public static let defaultCheckMaxAgeSeconds: Double = 900
    public static let defaultHistorySize = 3600
}

/// An invalid configuration: names the file, the line, the key path and what is wrong.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var keyPath: String
    public var message: String

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
    }
}

public enum ConfigLoader {
    /// Reads and validates a config file. Relative paths inside it (journal, secret files) are
    /// resolved against the file's own directory, so the file means the same from any cwd.
    public static func load(file: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SyncdConfig {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigError(file: file, line: nil, keyPath: "", message: "cannot read the config file: \(error.localizedDescription)")
        }
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
        return try parse(yaml: text, file: file, baseDirectory: directory, environment: environment)
    }

    public static func parse(yaml: String, file: String, baseDirectory: String, environment: [String: String]) throws -> SyncdConfig {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw ConfigError(file: file, line: nil, keyPath: "", message: "the file is empty")
            }
            root = node
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(file: file, line: nil, keyPath: "", message: "not valid YAML: \(error)")
        }
        let reader = Reader(file: file, baseDirectory: baseDirectory, environment: environment)
        return try reader.config(ConfigNode(node: root, path: ""))
    }
}

/// A node plus where it sits, so every error can name its key path and line.
struct ConfigNode {
    let node: Node
    let path: String

    var line: Int? { node.mark.map { $0.line } }

    func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

struct Reader {
    let file: String
    let baseDirectory: String
    let environment: [String: String]

    func fail(_ at: ConfigNode, _ message: String) -> ConfigError {
        ConfigError(file: file, line: at.line, keyPath: at.path, message: message)
    }

    // MARK: shapes

    func mapping(_ at: ConfigNode, allowed: [String]) throws -> [String: ConfigNode] {
        guard case let .mapping(mapping) = at.node else {
            throw fail(at, "expected a mapping of keys (\(allowed.joined(separator: ", "))), got \(describe(at.node))")
        }
        var result: [String: ConfigNode] = [:]
        for (keyNode, value) in mapping {
            guard case let .scalar(scalar) = keyNode else { throw fail(at, "keys must be plain strings") }
            let key = scalar.string
            let child = ConfigNode(node: value, path: at.child(key))
            guard allowed.contains(key) else {
                throw fail(child, "unknown key '\(key)' (allowed here: \(allowed.joined(separator: ", ")))")
            }
            guard result[key] == nil else { throw fail(child, "key '\(key)' appears twice") }
            result[key] = child
        }
        return result
    }

    func required(_ map: [String: ConfigNode], _ key: String, in parent: ConfigNode) throws -> ConfigNode {
        guard let node = map[key] else { throw fail(parent, "missing required key '\(key)'") }
        return node
    }

    func describe(_ node: Node) -> String {
        switch node {
        case let .scalar(scalar): "'\(scalar.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }

    func string(_ at: ConfigNode) throws -> String {
        guard case let .scalar(scalar) = at.node else { throw fail(at, "expected a string, got \(describe(at.node))") }
        guard !scalar.string.isEmpty else { throw fail(at, "must not be empty") }
        return scalar.string
    }

    func stringList(_ at: ConfigNode) throws -> [String] {
        guard case let .sequence(sequence) = at.node else { throw fail(at, "expected a list of names, got \(describe(at.node))") }
        let items = try sequence.enumerated().map { try string(ConfigNode(node: $1, path: "\(at.path)[\($0)]")) }
        guard !items.isEmpty else { throw fail(at, "the list must not be empty") }
        return items
    }

    func int(_ at: ConfigNode, range: ClosedRange<Int>) throws -> Int {
        guard case let .scalar(scalar) = at.node, let value = Int(scalar.string) else {
            throw fail(at, "expected an integer, got \(describe(at.node))")
        }
        guard range.contains(value) else { throw fail(at, "\(value) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return value
    }

    func bool(_ at: ConfigNode) throws -> Bool {
        guard case let .scalar(scalar) = at.node, let value = Bool(scalar.string.lowercased()) else {
            throw fail(at, "expected true or false, got \(describe(at.node))")
        }
        return value
    }

    func double(_ at: ConfigNode) throws -> Double {
        guard case let .scalar(scalar) = at.node, let value = Double(scalar.string), value.isFinite else {
            throw fail(at, "expected a number, got \(describe(at.node))")
        }
        return value
    }

    func duration(_ at: ConfigNode) throws -> Double {
        guard case let .scalar(scalar) = at.node, let seconds = DurationText.parse(scalar.string) else {
            throw fail(at, "expected a duration like 500ms, 30s, 5m or 1h, got \(describe(at.node))")
        }
        guard seconds > 0 else { throw fail(at, "must be greater than zero") }
        return seconds
    }

    func resolvePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: baseDirectory).appendingPathComponent(path).path
    }

    /// Secrets are references, never inline: `{env: NAME}` or `{file: PATH}`.
    func secret(_ at: ConfigNode) throws -> Secret {
        guard case .mapping = at.node else {
            throw fail(at, "secrets must be a reference, {env: VARIABLE} or {file: PATH}; inline values are not accepted")
        }
        let map = try mapping(at, allowed: ["env", "file"])
        switch (map["env"], map["file"]) {
        case let (env?, nil):
            let name = try string(env)
            guard let value = environment[name] else { throw fail(env, "environment variable \(name) is not set") }
            guard !value.isEmpty else { throw fail(env, "environment variable \(name) is empty") }
            return Secret(value)
        case let (nil, fileNode?):
            let path = resolvePath(try string(fileNode))
            let contents: String
            do {
                contents = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw fail(fileNode, "cannot read secret file \(path): \(error.localizedDescription)")
            }
            let value = contents.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else { throw fail(fileNode, "secret file \(path) is empty") }
            return Secret(value)
        default:
            throw fail(at, "give exactly one of 'env' or 'file'")
        }
    }

    // MARK: the document

    func config(_ root: ConfigNode) throws -> SyncdConfig {
        let top = try mapping(root, allowed: ["listen", "tokens", "journal", "history", "sources"])
        let listen = try required(top, "listen", in: root)
        let (host, port) = try hostPort(listen)

        let tokensNode = try required(top, "tokens", in: root)
        let tokens = try mapping(tokensNode, allowed: ["read", "admin"])
        let readToken = try secret(try required(tokens, "read", in: tokensNode))
        let adminToken = try secret(try required(tokens, "admin", in: tokensNode))

        let journal = resolvePath(try string(try required(top, "journal", in: root)))
        let history = try top["history"].map { try int($0, range: 10...1_000_000) } ?? SyncdConfig.defaultHistorySize

        let sourcesNode = try required(top, "sources", in: root)
        guard case let .sequence(sequence) = sourcesNode.node else {
            throw fail(sourcesNode, "expected a list of sources, got \(describe(sourcesNode.node))")
        }
        guard !sequence.isEmpty else { throw fail(sourcesNode, "at least one source is required") }
        var sources: [SourceConfig] = []
        for (index, item) in sequence.enumerated() {
            let source = try self.source(ConfigNode(node: item, path: "sources[\(index)]"))
            if sources.contains(where: { $0.name == source.name }) {
                throw fail(ConfigNode(node: item, path: "sources[\(index)].name"), "duplicate source name '\(source.name)'")
            }
            sources.append(source)
        }
        return SyncdConfig(file: file, listenHost: host, listenPort: port, readToken: readToken, adminToken: adminToken,
                           journalPath: journal, historySize: history, sources: sources)
    }

    func hostPort(_ at: ConfigNode) throws -> (String, Int) {
        try hostPort(try string(at), at: at)
    }

    func hostPort(_ text: String, at: ConfigNode) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":") else { throw fail(at, "expected host:port, got '\(text)'") }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw fail(at, "expected host:port with a port from 1 to 65535, got '\(text)'")
        }
        return (host, port)
    }

    static let nameCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")

    func source(_ at: ConfigNode) throws -> SourceConfig {
        guard case let .mapping(mapping) = at.node else { throw fail(at, "expected a mapping describing one source") }
        // Kind first: it decides which other keys are allowed.
        var kindNode: ConfigNode?
        for (key, value) in mapping where key.string == "kind" {
            kindNode = ConfigNode(node: value, path: at.child("kind"))
        }
        guard let kindNode else { throw fail(at, "missing required key 'kind'") }
        let kindText = try string(kindNode)
        guard let kind = SourceKind(rawValue: kindText) else {
            throw fail(kindNode, "unknown kind '\(kindText)' (known: \(SourceKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }

        let common = ["name", "kind", "primary", "dr", "poll_interval", "poll_timeout", "lag_budget", "check_max_age", "ratio_threshold"]
        let specific: [String] = switch kind {
        case .postgres: ["mode", "subscription", "tables", "schemas"]
        case .redis: ["mode", "databases", "heartbeat_key", "ttl_tolerance"]
        case .kafka: ["mode", "topics", "topic_pattern", "replication_policy", "source_alias", "target_alias", "separator",
                      "offset_syncs_topic", "offset_syncs_cluster", "batch_size", "compression"]
        case .objectStore: ["mode", "prefix", "content_check", "concurrency", "multipart_threshold", "part_size"]
        }
        let map = try self.mapping(at, allowed: common + specific)
        let nameNode = try required(map, "name", in: at)
        let name = try string(nameNode)
        guard name.unicodeScalars.allSatisfy({ Reader.nameCharacters.contains($0) }) else {
            throw fail(nameNode, "'\(name)' may contain only letters, digits, '_', '.' and '-' (it appears in URLs)")
        }
        let endpoint = switch kind {
        case .postgres: postgresEndpoint
        case .redis: redisEndpoint
        case .kafka: kafkaEndpoint
        case .objectStore: objectStoreEndpoint
        }
        let primary = try endpoint(try required(map, "primary", in: at))
        let dr = try endpoint(try required(map, "dr", in: at))
        let poll = try map["poll_interval"].map(duration) ?? kind.defaultPollInterval
        let budget = try map["lag_budget"].map(duration) ?? kind.defaultLagBudget
        let maxAge = try map["check_max_age"].map(duration) ?? SyncdConfig.defaultCheckMaxAgeSeconds
        var threshold = GatePolicy.defaultRatioThreshold
        if let node = map["ratio_threshold"] {
            threshold = try double(node)
            guard threshold > 0, threshold <= 1 else { throw fail(node, "must be greater than 0 and at most 1, got \(threshold)") }
        }
        let timeout = try map["poll_timeout"].map(duration) ?? kind.defaultPollTimeout
        // A sample is evidence of the present for one interval plus the time the next poll may take.
        let policy = GatePolicy(lagBudgetSeconds: budget, checkMaxAgeSeconds: maxAge, ratioThreshold: threshold,
                                sampleMaxAgeSeconds: GatePolicy.sampleMaxAge(pollInterval: poll, pollTimeout: timeout))
        var source = SourceConfig(name: name, kind: kind, primary: primary, dr: dr, pollIntervalSeconds: poll,
                                  pollTimeoutSeconds: timeout, policy: policy)
        switch kind {
        case .redis: source.redis = try redisOptions(map, in: at)
        case .kafka: source.kafka = try kafkaOptions(map, in: at, sourceName: name)
        case .objectStore: source.objectStore = try objectStoreOptions(map, in: at)
        case .postgres: source.postgres = try postgresOptions(map)
        }
        return source
    }

    func postgresOptions(_ map: [String: ConfigNode]) throws -> PostgresOptions {
        var options = PostgresOptions()
        if let node = map["mode"] {
            let text = try string(node)
            guard let mode = PostgresOptions.Mode(rawValue: text) else {
                throw fail(node, "unknown mode '\(text)' (known: auto, physical, logical)")
            }
            options.mode = mode
        }
        options.subscription = try map["subscription"].map(string)
        options.tables = try map["tables"].map { try stringList($0) }
        if let node = map["schemas"] { options.schemas = try stringList(node) }
        return options
    }

    func redisOptions(_ map: [String: ConfigNode], in parent: ConfigNode) throws -> RedisOptions {
        // No default: a promoted replica must not be mistaken for an independent DR instance.
        let modeNode = try required(map, "mode", in: parent)
        let modeText = try string(modeNode)
        guard let mode = RedisOptions.Mode(rawValue: modeText) else {
            throw fail(modeNode, "unknown mode '\(modeText)' (known: replica, independent)")
        }
        var options = RedisOptions(mode: mode)
        if let node = map["databases"] {
            guard case let .sequence(sequence) = node.node, !sequence.isEmpty else {
                throw fail(node, "expected a non-empty list of database numbers, e.g. [0, 1]")
            }
            options.databases = try sequence.enumerated().map { try int(ConfigNode(node: $1, path: "\(node.path)[\($0)]"), range: 0...65535) }
            guard Set(options.databases).count == options.databases.count else { throw fail(node, "a database is listed twice") }
        }
        options.heartbeatKey = try map["heartbeat_key"].map(string)
        if let node = map["ttl_tolerance"] { options.ttlToleranceSeconds = try duration(node) }
        return options
    }

    static let compressionCodecs = ["none", "gzip", "snappy", "lz4", "zstd"]

    func kafkaOptions(_ map: [String: ConfigNode], in parent: ConfigNode, sourceName: String) throws -> KafkaOptions {
        // No default: whether syncd copies the data itself must be said, not guessed.
        let modeNode = try required(map, "mode", in: parent)
        let modeText = try string(modeNode)
        guard let mode = KafkaOptions.Mode(rawValue: modeText) else {
            throw fail(modeNode, "unknown mode '\(modeText)' (known: mirror, mirrormaker2)")
        }
        let topics = try map["topics"].map { try stringList($0) }
        let pattern = try map["topic_pattern"].map(string)
        switch (topics, pattern) {
        case (nil, nil): throw fail(parent, "give the topics to replicate: 'topics' (a list) or 'topic_pattern' (a regular expression)")
        case (.some, .some): throw fail(map["topic_pattern"]!, "give either 'topics' or 'topic_pattern', not both")
        case let (.some(list), nil):
            if list.isEmpty { throw fail(map["topics"]!, "expected at least one topic") }
            if Set(list).count != list.count { throw fail(map["topics"]!, "a topic is listed twice") }
        case let (nil, .some(text)):
            do { _ = try Regex(text) } catch { throw fail(map["topic_pattern"]!, "not a valid regular expression: \(error)") }
        }
        var policy: KafkaOptions.Policy?
        if let node = map["replication_policy"] {
            let text = try string(node)
            guard let value = KafkaOptions.Policy(rawValue: text) else { throw fail(node, "unknown replication_policy '\(text)' (known: identity, mirrormaker2)") }
            policy = value
        }
        var cluster: KafkaOptions.Cluster?
        if let node = map["offset_syncs_cluster"] {
            let text = try string(node)
            guard let value = KafkaOptions.Cluster(rawValue: text) else { throw fail(node, "unknown offset_syncs_cluster '\(text)' (known: primary, dr)") }
            cluster = value
        }
        let separator = try map["separator"].map(string) ?? "."
        if let node = map["separator"], separator.isEmpty { throw fail(node, "the separator cannot be empty") }
        let compression = try map["compression"].map(string) ?? "lz4"
        if let node = map["compression"], !Reader.compressionCodecs.contains(compression) {
            throw fail(node, "unknown compression '\(compression)' (known: \(Reader.compressionCodecs.joined(separator: ", ")))")
        }
        return KafkaOptions(mode: mode, topics: topics, topicPattern: pattern, policy: policy,
                            sourceAlias: try map["source_alias"].map(string) ?? "primary", separator: separator,
                            offsetSyncsTopic: try map["offset_syncs_topic"].map(string), offsetSyncsCluster: cluster,
                            sourceName: sourceName, batchSize: try map["batch_size"].map { try int($0, range: 1...100_000) } ?? KafkaOptions.defaultBatchSize,
                            compression: compression, targetAlias: try map["target_alias"].map(string) ?? "dr")
    }

    static let saslMechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

    func objectStoreOptions(_ map: [String: ConfigNode], in parent: ConfigNode) throws -> ObjectStoreOptions {
        // No default: whether syncd writes to the DR bucket must be said, not guessed.
        let modeNode = try required(map, "mode", in: parent)
        let modeText = try string(modeNode)
        guard let mode = ObjectStoreOptions.Mode(rawValue: modeText) else {
            throw fail(modeNode, "unknown mode '\(modeText)' (known: native, managed)")
        }
        var options = ObjectStoreOptions(mode: mode)
        if let node = map["prefix"] { options.prefix = try string(node) }
        if let node = map["content_check"] { options.contentCheck = try bool(node) }
        if let node = map["concurrency"] { options.concurrency = try int(node, range: 1...256) }
        if let node = map["multipart_threshold"] { options.multipartThreshold = try byteSize(node, minimum: 5 << 20) }
        if let node = map["part_size"] { options.partSize = try byteSize(node, minimum: 5 << 20) }
        return options
    }

    /// Sizes as operators write them: 5MiB, 64MiB, 1GiB, or a number of bytes.
    func byteSize(_ at: ConfigNode, minimum: Int64) throws -> Int64 {
        let text = try string(at)
        let units: [(String, Int64)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)]
        var value: Int64?
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            value = Int64(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)).map { $0 * factor }
        }
        if value == nil { value = Int64(text) }
        guard let bytes = value else { throw fail(at, "expected a size like 16MiB or 1GiB, got '\(text)'") }
        guard bytes >= minimum else { throw fail(at, "must be at least \(minimum >> 20)MiB (S3's smallest multipart part), got '\(text)'") }
        return bytes
    }

    func objectStoreEndpoint(_ at: ConfigNode) throws -> EndpointConfig {
        let map = try mapping(at, allowed: ["url", "bucket", "region", "access_key", "secret_key", "addressing", "tls_verify", "connect_timeout"])
        let urlNode = try required(map, "url", in: at)
        let urlText = try string(urlNode)
        guard let url = URL(string: urlText), let scheme = url.scheme, ["http", "https"].contains(scheme), let host = url.host, !host.isEmpty else {
            throw fail(urlNode, "expected an http:// or https:// URL, got '\(urlText)'")
        }
        let bucketNode = try required(map, "bucket", in: at)
        let bucket = try string(bucketNode)
        guard bucket.count >= 3, bucket.count <= 63,
              bucket.unicodeScalars.allSatisfy({ CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789.-").contains($0) }) else {
            throw fail(bucketNode, "'\(bucket)' is not a valid bucket name (3-63 lowercase letters, digits, '.' and '-')")
        }
        var store = ObjectStoreEndpoint(url: urlText.hasSuffix("/") ? String(urlText.dropLast()) : urlText, bucket: bucket)
        if let node = map["region"] { store.region = try string(node) }
        store.accessKey = try map["access_key"].map(secret)
        store.secretKey = try map["secret_key"].map(secret)
        if (store.accessKey == nil) != (store.secretKey == nil) {
            throw fail(map["access_key"] ?? map["secret_key"]!, "access_key and secret_key go together")
        }
        if let node = map["addressing"] {
            let text = try string(node)
            guard ["path", "virtual"].contains(text) else { throw fail(node, "unknown addressing '\(text)' (known: path, virtual)") }
            store.virtualHost = text == "virtual"
        }
        if let node = map["tls_verify"] { store.verifyTLS = try bool(node) }
        var endpoint = EndpointConfig(host: host, port: url.port ?? (scheme == "https" ? 443 : 80))
        if let node = map["connect_timeout"] { endpoint.connectTimeoutSeconds = max(1, Int(try duration(node).rounded(.up))) }
        endpoint.objectStore = store
        return endpoint
    }

    func kafkaEndpoint(_ at: ConfigNode) throws -> EndpointConfig {
        let map = try mapping(at, allowed: ["bootstrap", "user", "password", "sasl_mechanism", "tls", "connect_timeout"])
        let node = try required(map, "bootstrap", in: at)
        let brokers = try string(node).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !brokers.isEmpty else { throw fail(node, "expected host:port[,host:port...]") }
        let parsed = try brokers.map { try hostPort($0, at: node) }
        var endpoint = EndpointConfig(host: parsed[0].0, port: parsed[0].1)
        endpoint.bootstrap = brokers.joined(separator: ",")
        endpoint.user = try map["user"].map(string)
        endpoint.password = try map["password"].map(secret)
        if endpoint.user != nil, endpoint.password == nil { throw fail(map["user"]!, "a SASL user needs a password (password: {env: NAME} or {file: PATH})") }
        if let mechanismNode = map["sasl_mechanism"] {
            let mechanism = try string(mechanismNode)
            guard Reader.saslMechanisms.contains(mechanism) else {
                throw fail(mechanismNode, "unknown sasl_mechanism '\(mechanism)' (known: \(Reader.saslMechanisms.joined(separator: ", ")))")
            }
            endpoint.saslMechanism = mechanism
        }
        if let tlsNode = map["tls"] { endpoint.tls = try bool(tlsNode) }
        if let timeoutNode = map["connect_timeout"] {
            endpoint.connectTimeoutSeconds = max(1, Int(try duration(timeoutNode).rounded(.up)))
        }
        return endpoint
    }

    func redisEndpoint(_ at: ConfigNode) throws -> EndpointConfig {
        let (endpoint, map) = try endpoint(at, defaultPort: 6379, extra: [])
        if endpoint.user != nil, endpoint.password == nil, let node = map["user"] {
            throw fail(node, "an ACL user needs a password (password: {env: NAME} or {file: PATH})")
        }
        return endpoint
    }

    /// The keys every endpoint has (host, port, user, password, connect_timeout) plus `extra`
    /// ones, which the caller reads from the returned map.
    func endpoint(_ at: ConfigNode, defaultPort: Int, extra: [String]) throws -> (EndpointConfig, [String: ConfigNode]) {
        let map = try mapping(at, allowed: ["host", "port", "user", "password", "connect_timeout"] + extra)
        var endpoint = EndpointConfig(host: try string(try required(map, "host", in: at)), port: defaultPort)
        endpoint.port = try map["port"].map { try int($0, range: 1...65535) } ?? defaultPort
        endpoint.user = try map["user"].map(string)
        endpoint.password = try map["password"].map(secret)
        if let node = map["connect_timeout"] {
            endpoint.connectTimeoutSeconds = max(1, Int(try duration(node).rounded(.up)))
        }
        return (endpoint, map)
    }

    static let sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

    func postgresEndpoint(_ at: ConfigNode) throws -> EndpointConfig {
        var (endpoint, map) = try endpoint(at, defaultPort: 5432, extra: ["database", "sslmode"])
        endpoint.user = try string(try required(map, "user", in: at))
        endpoint.database = try map["database"].map(string) ?? "postgres"
        if let node = map["sslmode"] {
            let mode = try string(node)
            guard Reader.sslModes.contains(mode) else {
                throw fail(node, "unknown sslmode '\(mode)' (known: \(Reader.sslModes.joined(separator: ", ")))")
            }
            endpoint.sslmode = mode
        }
        return endpoint
    }
}

/// Durations as operators write them: 500ms, 30s, 5m, 1h, 1.5s; a bare number is seconds.
public enum DurationText {
    public static func parse(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            guard let value = Double(trimmed.dropLast(suffix.count)), value.isFinite, value >= 0 else { return nil }
            return value * factor
        }
        guard let value = Double(trimmed), value.isFinite, value >= 0 else { return nil }
        return value
    }
}
