import Foundation
import KafkaClient
import SyncCore

/// Kafka-specific options of a source.
public struct KafkaOptions: KindOptions, Equatable {
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
    /// Consumer groups whose committed offsets must be usable on the DR cluster after a cutover.
    public var consumerGroups: [String] = []
    /// The built-in mirror also commits those groups' translated offsets on the DR cluster.
    public var syncGroupOffsets = false

    public static let defaultBatchSize = 500
    public static let compressionCodecs = ["none", "gzip", "snappy", "lz4", "zstd"]

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

extension SourceKind {
    public static let kafka = SourceKind(rawValue: "kafka")
}

extension SourceConfig {
    public var kafka: KafkaOptions? {
        get { options as? KafkaOptions }
        set { options = newValue }
    }
}

extension KafkaSource {
    public static let descriptor = SourceDescriptor(
        kind: .kafka,
        defaults: SourceDefaults(pollIntervalSeconds: 2, pollTimeoutSeconds: 10, lagBudgetSeconds: 60),
        optionKeys: ["mode", "topics", "topic_pattern", "replication_policy", "source_alias", "target_alias", "separator",
                     "offset_syncs_topic", "offset_syncs_cluster", "batch_size", "compression", "consumer_groups", "sync_group_offsets"],
        readEndpoint: { reader, node in try reader.kafkaEndpoint(node) },
        readOptions: { reader, section in try reader.kafkaOptions(section) },
        makeAdapter: { KafkaSource(config: $0) })
}

extension ConfigReader {
    func kafkaOptions(_ section: SourceSection) throws -> KafkaOptions {
        let map = section.keys
        // No default: whether syncd copies the data itself must be said, not guessed.
        let mode = try choice(try required(map, "mode", in: section.node), "mode", of: KafkaOptions.Mode.self)
        let topics = try map["topics"].map { try stringList($0) }
        let pattern = try map["topic_pattern"].map(string)
        switch (topics, map["topics"], pattern, map["topic_pattern"]) {
        case (nil, _, nil, _):
            throw fail(section.node, "give the topics to replicate: 'topics' (a list) or 'topic_pattern' (a regular expression)")
        case let (.some, _, .some, patternNode?): throw fail(patternNode, "give either 'topics' or 'topic_pattern', not both")
        case let (.some(list), listNode?, nil, _):
            if Set(list.map(\.byteKey)).count != list.count { throw fail(listNode, "a topic is listed twice") }
        case let (nil, _, .some(text), patternNode?):
            do { _ = try Regex(text) } catch { throw fail(patternNode, "not a valid regular expression: \(error)") }
        default: break
        }
        let policy = try map["replication_policy"].map { try choice($0, "replication_policy", of: KafkaOptions.Policy.self) }
        let cluster = try map["offset_syncs_cluster"].map { try choice($0, "offset_syncs_cluster", of: KafkaOptions.Cluster.self) }
        let separator = try map["separator"].map(string) ?? "."
        let compression = try map["compression"].map(string) ?? "lz4"
        if let node = map["compression"], !KafkaOptions.compressionCodecs.contains(compression) {
            throw fail(node, "unknown compression '\(compression)' (known: \(KafkaOptions.compressionCodecs.joined(separator: ", ")))")
        }
        var options = KafkaOptions(mode: mode, topics: topics, topicPattern: pattern, policy: policy,
                                   sourceAlias: try map["source_alias"].map(string) ?? "primary", separator: separator,
                                   offsetSyncsTopic: try map["offset_syncs_topic"].map(string), offsetSyncsCluster: cluster,
                                   sourceName: section.name,
                                   batchSize: try map["batch_size"].map { try int($0, range: 1...100_000) } ?? KafkaOptions.defaultBatchSize,
                                   compression: compression, targetAlias: try map["target_alias"].map(string) ?? "dr")
        if let node = map["consumer_groups"] {
            options.consumerGroups = try stringList(node)
            if Set(options.consumerGroups.map(\.byteKey)).count != options.consumerGroups.count { throw fail(node, "a group is listed twice") }
        }
        if let node = map["sync_group_offsets"] {
            options.syncGroupOffsets = try bool(node)
            guard !options.syncGroupOffsets || (mode == .mirror && !options.consumerGroups.isEmpty) else {
                throw fail(node, "sync_group_offsets is for mode: mirror with consumer_groups (MirrorMaker 2 syncs them itself: sync.group.offsets.enabled)")
            }
        }
        return options
    }

    func kafkaEndpoint(_ at: ConfigNode) throws -> EndpointConfig {
        let map = try mapping(at, allowed: ["bootstrap", "user", "password", "sasl_mechanism", "tls", "connect_timeout"])
        let node = try required(map, "bootstrap", in: at)
        let brokers = try string(node).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !brokers.isEmpty else { throw fail(node, "expected host:port[,host:port...]") }
        let parsed = try brokers.map { try hostPort($0, at: node) }
        var endpoint = EndpointConfig(host: parsed[0].0, port: parsed[0].1)
        var options = KafkaEndpointOptions(bootstrap: brokers.joined(separator: ","))
        endpoint.user = try map["user"].map(string)
        endpoint.password = try map["password"].map(secret)
        if let userNode = map["user"], endpoint.password == nil {
            throw fail(userNode, "a SASL user needs a password (password: {env: NAME} or {file: PATH})")
        }
        if let mechanismNode = map["sasl_mechanism"] {
            let mechanism = try string(mechanismNode)
            guard KafkaEndpointOptions.saslMechanisms.contains(mechanism) else {
                throw fail(mechanismNode, "unknown sasl_mechanism '\(mechanism)' (known: \(KafkaEndpointOptions.saslMechanisms.joined(separator: ", ")))")
            }
            options.saslMechanism = mechanism
        }
        if let tlsNode = map["tls"] { options.tls = try bool(tlsNode) }
        if let timeoutNode = map["connect_timeout"] { endpoint.connectTimeoutSeconds = try connectTimeout(timeoutNode) }
        endpoint.options = options
        return endpoint
    }
}
