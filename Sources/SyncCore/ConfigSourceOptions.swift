import Foundation
import Yams

/// Each kind's own keys: options and endpoints, read with the same file:line:key messages.
extension Reader {
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
