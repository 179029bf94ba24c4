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
