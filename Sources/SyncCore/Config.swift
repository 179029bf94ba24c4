import Foundation
import Yams

/// A secret value read from the environment or a file. It never prints itself.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    /// Tokens are matched byte for byte (as the API compares them), not as Unicode text.
    public func sameBytes(_ other: Secret) -> Bool { Array(value.utf8) == Array(other.value.utf8) }
}

/// How to reach one side of a source. The fields every kind has; a kind's own endpoint keys
/// (S3 bucket, Kafka bootstrap list, PostgreSQL sslmode) ride in `options`.
public struct EndpointConfig: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: Secret?
    public var database: String?
    public var connectTimeoutSeconds: Int
    public var options: (any KindOptions)?

    public init(host: String, port: Int, user: String? = nil, password: Secret? = nil, database: String? = nil,
                connectTimeoutSeconds: Int = 5, options: (any KindOptions)? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.options = options
    }

    public static func == (lhs: EndpointConfig, rhs: EndpointConfig) -> Bool {
        lhs.host == rhs.host && lhs.port == rhs.port && lhs.user == rhs.user && lhs.password == rhs.password
            && lhs.database == rhs.database && lhs.connectTimeoutSeconds == rhs.connectTimeoutSeconds
            && optionsEqual(lhs.options, rhs.options)
    }
}

/// One source: a primary, its DR copy, how often to poll and what the gate demands. The kind's
/// own settings ride in `options`; its adapter reads them back.
public struct SourceConfig: Sendable, Equatable {
    public var name: String
    public var kind: SourceKind
    public var primary: EndpointConfig
    public var dr: EndpointConfig
    public var pollIntervalSeconds: Double
    /// A poll that has not answered by then makes the source unreachable.
    public var pollTimeoutSeconds: Double
    public var policy: GatePolicy
    public var options: (any KindOptions)?
    /// Checks syncd runs by itself (`check_interval`); nil: only when asked.
    public var checkSchedule: CheckSchedule?

    public init(name: String, kind: SourceKind, primary: EndpointConfig, dr: EndpointConfig,
                pollIntervalSeconds: Double, pollTimeoutSeconds: Double, policy: GatePolicy, options: (any KindOptions)? = nil) {
        self.name = name
        self.kind = kind
        self.primary = primary
        self.dr = dr
        self.pollIntervalSeconds = pollIntervalSeconds
        self.pollTimeoutSeconds = pollTimeoutSeconds
        self.policy = policy
        self.options = options
    }

    public static func == (lhs: SourceConfig, rhs: SourceConfig) -> Bool {
        lhs.name == rhs.name && lhs.kind == rhs.kind && lhs.primary == rhs.primary && lhs.dr == rhs.dr
            && lhs.pollIntervalSeconds == rhs.pollIntervalSeconds && lhs.pollTimeoutSeconds == rhs.pollTimeoutSeconds
            && lhs.policy == rhs.policy && optionsEqual(lhs.options, rhs.options) && lhs.checkSchedule == rhs.checkSchedule
    }
}

public struct SyncdConfig: Sendable, Equatable {
    public var file: String
    public var listenHost: String
    public var listenPort: Int
    /// Every token each role accepts (more than one while a token is rotated).
    public var readTokens: [Secret]
    public var adminTokens: [Secret]
    /// Where the journal lives: an SQLite file (one instance), or a PostgreSQL database several
    /// instances share.
    public var journal: JournalLocation
    /// The SQLite file's path; nil for a PostgreSQL journal.
    public var journalPath: String? {
        if case let .sqlite(path) = journal { return path }
        return nil
    }
    /// Samples kept per source (a ring buffer).
    public var historySize: Int
    public var sources: [SourceConfig]
    /// Sources a cutover run works on at once.
    public var cutoverConcurrency: Int = SyncdConfig.defaultCutoverConcurrency
    /// How often syncd journals each source's worst lag, and how far back a cutover's exposure looks.
    public var lagSummaryIntervalSeconds: Double = SyncdConfig.defaultLagSummaryIntervalSeconds
    public var exposureWindowSeconds: Double = SyncdConfig.defaultExposureWindowSeconds
    /// Journal entries older than this are pruned (cutover runs are kept); nil: `journal_retention: forever`.
    public var journalRetentionSeconds: Double? = SyncdConfig.defaultJournalRetentionSeconds
    /// The API serves HTTPS with these files; nil: plain HTTP (loopback demos only).
    public var tls: TLSFiles?
    /// This instance among those sharing a journal (`instance:`); the host name by default.
    public var instance = InstanceIdentity(id: ProcessInfo.processInfo.hostName, site: "default", url: nil)
    /// How long a leader's lease lasts without renewal (shared journal only).
    public var leaseTTLSeconds: Double = SyncdConfig.defaultLeaseTTLSeconds

    public init(file: String, listenHost: String, listenPort: Int, readTokens: [Secret], adminTokens: [Secret], journal: JournalLocation,
                historySize: Int, sources: [SourceConfig]) {
        self.file = file
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.readTokens = readTokens
        self.adminTokens = adminTokens
        self.journal = journal
        self.historySize = historySize
        self.sources = sources
    }

    /// The first token of each role: the one local calls (syncctl --config) use.
    public var readToken: Secret { readTokens[0] }
    public var adminToken: Secret { adminTokens[0] }

    public static let minimumTokenLength = 16
    public static let defaultCheckMaxAgeSeconds: Double = 900
    public static let defaultHistorySize = 3600
    public static let defaultCutoverConcurrency = 4
    public static let defaultLagSummaryIntervalSeconds: Double = 60
    public static let defaultExposureWindowSeconds: Double = 86_400
    public static let defaultJournalRetentionSeconds: Double = 90 * 86_400
    public static let defaultLeaseTTLSeconds: Double = 10
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
    public static func load(file: String, kinds: [SourceDescriptor],
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SyncdConfig {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigError(file: file, line: nil, keyPath: "", message: "cannot read the config file: \(error.localizedDescription)")
        }
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
        return try parse(yaml: text, file: file, baseDirectory: directory, environment: environment, kinds: kinds)
    }

    /// A YAML document's root node; an empty or malformed one is a ConfigError naming the file.
    static func document(yaml: String, file: String, empty: String) throws -> Node {
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw ConfigError(file: file, line: nil, keyPath: "", message: empty)
            }
            return node
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(file: file, line: nil, keyPath: "", message: "not valid YAML: \(error)")
        }
    }

    public static func parse(yaml: String, file: String, baseDirectory: String, environment: [String: String],
                             kinds: [SourceDescriptor]) throws -> SyncdConfig {
        let root = try document(yaml: yaml, file: file, empty: "the file is empty")
        let reader = ConfigReader(file: file, baseDirectory: baseDirectory, environment: environment)
        return try reader.config(ConfigNode(node: root, path: ""), kinds: kinds)
    }
}

/// A node plus where it sits, so every error can name its key path and line.
public struct ConfigNode {
    let node: Node
    public let path: String

    init(node: Node, path: String) {
        self.node = node
        self.path = path
    }

    public var line: Int? { node.mark.map { $0.line } }

    func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

/// Reads typed values out of config nodes; every error names the file, the line and the key path.
/// Adapters read their own keys with it (see `SourceDescriptor`).
public struct ConfigReader {
    let file: String
    let baseDirectory: String
    let environment: [String: String]

    public func fail(_ at: ConfigNode, _ message: String) -> ConfigError {
        ConfigError(file: file, line: at.line, keyPath: at.path, message: message)
    }

    // MARK: shapes

    /// The keys of a mapping; `allowed` nil takes any key (a mapping keyed by names, e.g. tables).
    public func mapping(_ at: ConfigNode, allowed: [String]?) throws -> [String: ConfigNode] {
        guard case let .mapping(mapping) = at.node else {
            throw fail(at, "expected a mapping of keys\(allowed.map { " (\($0.joined(separator: ", ")))" } ?? ""), got \(describe(at.node))")
        }
        var result: [String: ConfigNode] = [:]
        for (keyNode, value) in mapping {
            guard case let .scalar(scalar) = keyNode else { throw fail(at, "keys must be plain strings") }
            let key = scalar.string
            let child = ConfigNode(node: value, path: at.child(key))
            if let allowed, !allowed.contains(key) {
                throw fail(child, "unknown key '\(key)' (allowed here: \(allowed.joined(separator: ", ")))")
            }
            guard result[key] == nil else { throw fail(child, "key '\(key)' appears twice") }
            result[key] = child
        }
        return result
    }

    public func required(_ map: [String: ConfigNode], _ key: String, in parent: ConfigNode) throws -> ConfigNode {
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

    public func string(_ at: ConfigNode) throws -> String {
        guard case let .scalar(scalar) = at.node else { throw fail(at, "expected a string, got \(describe(at.node))") }
        guard !scalar.string.isEmpty else { throw fail(at, "must not be empty") }
        return scalar.string
    }

    public func stringList(_ at: ConfigNode) throws -> [String] {
        guard case let .sequence(sequence) = at.node else { throw fail(at, "expected a list of names, got \(describe(at.node))") }
        let items = try sequence.enumerated().map { try string(ConfigNode(node: $1, path: "\(at.path)[\($0)]")) }
        guard !items.isEmpty else { throw fail(at, "the list must not be empty") }
        return items
    }

    /// A non-empty list of integers, each in `range`, none twice; `what` names one item in errors.
    public func intList(_ at: ConfigNode, range: ClosedRange<Int>, what: String) throws -> [Int] {
        guard case let .sequence(sequence) = at.node, !sequence.isEmpty else {
            throw fail(at, "expected a non-empty list of \(what) numbers, e.g. [0, 1]")
        }
        let values = try sequence.enumerated().map { try int(ConfigNode(node: $1, path: "\(at.path)[\($0)]"), range: range) }
        guard Set(values).count == values.count else { throw fail(at, "a \(what) is listed twice") }
        return values
    }

    /// Sizes as operators write them: 5MiB, 64MiB, 1GiB, or a number of bytes; `why` says what
    /// sets the minimum.
    public func byteSize(_ at: ConfigNode, minimum: Int64, why: String) throws -> Int64 {
        let text = try string(at)
        let units: [(String, Int64)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)]
        var value: Int64?
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            value = Int64(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)).map { $0 * factor }
        }
        if value == nil { value = Int64(text) }
        guard let bytes = value else { throw fail(at, "expected a size like 16MiB or 1GiB, got '\(text)'") }
        guard bytes >= minimum else { throw fail(at, "must be at least \(minimum >> 20)MiB (\(why)), got '\(text)'") }
        return bytes
    }

    /// One of a fixed set of words; the error lists them.
    public func choice<Value: RawRepresentable>(_ at: ConfigNode, _ what: String, of type: Value.Type) throws -> Value
    where Value: CaseIterable, Value.RawValue == String {
        let text = try string(at)
        guard let value = Value(rawValue: text) else {
            throw fail(at, "unknown \(what) '\(text)' (known: \(Value.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return value
    }

    /// The keys every endpoint has (host, port, user, password, connect_timeout) plus `extra`
    /// ones, which the caller reads from the returned map.
    public func endpoint(_ at: ConfigNode, defaultPort: Int, extra: [String]) throws -> (EndpointConfig, [String: ConfigNode]) {
        let map = try mapping(at, allowed: ["host", "port", "user", "password", "connect_timeout"] + extra)
        var endpoint = EndpointConfig(host: try string(try required(map, "host", in: at)), port: defaultPort)
        endpoint.port = try map["port"].map { try int($0, range: 1...65535) } ?? defaultPort
        endpoint.user = try map["user"].map(string)
        endpoint.password = try map["password"].map(secret)
        if let node = map["connect_timeout"] { endpoint.connectTimeoutSeconds = try connectTimeout(node) }
        return (endpoint, map)
    }

    /// Whole seconds, at least one: the C clients take connect timeouts in seconds.
    public func connectTimeout(_ at: ConfigNode) throws -> Int {
        max(1, Int(try duration(at, max: 600).rounded(.up)))
    }

    public func int(_ at: ConfigNode, range: ClosedRange<Int>) throws -> Int {
        guard case let .scalar(scalar) = at.node, let value = Int(scalar.string) else {
            throw fail(at, "expected an integer, got \(describe(at.node))")
        }
        guard range.contains(value) else { throw fail(at, "\(value) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return value
    }

    public func bool(_ at: ConfigNode) throws -> Bool {
        guard case let .scalar(scalar) = at.node, let value = Bool(scalar.string.lowercased()) else {
            throw fail(at, "expected true or false, got \(describe(at.node))")
        }
        return value
    }

    public func double(_ at: ConfigNode) throws -> Double {
        guard case let .scalar(scalar) = at.node, let value = Double(scalar.string), value.isFinite else {
            throw fail(at, "expected a number, got \(describe(at.node))")
        }
        return value
    }

    /// The longest duration any key takes unless it sets its own bound: ten years, far inside what
    /// a nanosecond count (Int64, 292 years) holds, so no conversion downstream can overflow.
    public static let maximumDurationSeconds: Double = 3650 * 86_400

    public func duration(_ at: ConfigNode, max limit: Double = ConfigReader.maximumDurationSeconds) throws -> Double {
        guard case let .scalar(scalar) = at.node, let seconds = DurationText.parse(scalar.string) else {
            throw fail(at, "expected a duration like 500ms, 30s, 5m, 1h or 7d, got \(describe(at.node))")
        }
        guard seconds > 0 else { throw fail(at, "must be greater than zero") }
        guard seconds <= limit else {
            throw fail(at, "\(scalar.string) is longer than the \(DurationText.describe(limit)) this key allows")
        }
        return seconds
    }

    public func resolvePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: baseDirectory).appendingPathComponent(path).path
    }

    /// Secrets are references, never inline: `{env: NAME}` or `{file: PATH}`.
    public func secret(_ at: ConfigNode) throws -> Secret {
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
            if let problem = Self.regularFileProblem(path) { throw fail(fileNode, "cannot read secret file \(path): \(problem)") }
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

    /// What is at `path`: nothing (with errno's words), a regular file, a directory, or something else.
    enum PathKind: Equatable {
        case missing(String), file, directory, other
    }

    static func pathKind(_ path: String) -> PathKind {
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing(String(cString: strerror(errno))) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    /// Why `path` is not a readable regular file, in words; nil when it is one.
    static func regularFileProblem(_ path: String) -> String? {
        switch pathKind(path) {
        case let .missing(reason): return reason
        case .directory: return "it is a directory, not a file"
        case .other: return "it is not a regular file"
        case .file: return access(path, R_OK) == 0 ? nil : String(cString: strerror(errno))
        }
    }

    /// One secret or a list of them (several while a token is rotated), each at least 16
    /// characters, none twice.
    func tokens(_ at: ConfigNode) throws -> [Secret] {
        let items: [ConfigNode]
        if case let .sequence(sequence) = at.node {
            guard !sequence.isEmpty else { throw fail(at, "the list of tokens must not be empty") }
            items = sequence.enumerated().map { ConfigNode(node: $1, path: "\(at.path)[\($0)]") }
        } else {
            items = [at]
        }
        var tokens: [Secret] = []
        for item in items {
            let token = try secret(item)
            guard token.value.count >= SyncdConfig.minimumTokenLength else {
                throw fail(item, "the token is \(token.value.count) character(s) long; a token needs at least \(SyncdConfig.minimumTokenLength) (e.g. openssl rand -hex 24)")
            }
            guard !tokens.contains(where: { $0.sameBytes(token) }) else { throw fail(item, "the same token is listed twice") }
            tokens.append(token)
        }
        return tokens
    }

    /// The journal must be writable now, not at the first append: its directory (made when missing)
    /// or the file itself.
    func journalPathProblem(_ path: String) -> String? {
        switch Self.pathKind(path) {
        case .file: return access(path, R_OK | W_OK) == 0 ? nil : "\(path) is not writable: \(String(cString: strerror(errno)))"
        case .directory: return "\(path) is a directory; give the path of the journal file"
        case .other: return "\(path) is not a regular file"
        case .missing: break
        }
        // The nearest existing ancestor decides whether the directories can be made.
        var directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        while case .missing = Self.pathKind(directory.path) {
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { break }
            directory = parent
        }
        guard Self.pathKind(directory.path) == .directory else { return "\(directory.path) is not a directory" }
        guard access(directory.path, W_OK | X_OK) == 0 else {
            return "cannot create the journal in \(directory.path): \(String(cString: strerror(errno)))"
        }
        return nil
    }

    // MARK: the document

    func config(_ root: ConfigNode, kinds: [SourceDescriptor]) throws -> SyncdConfig {
        let top = try mapping(root, allowed: ["listen", "tls", "instance", "lease_ttl", "tokens", "journal", "journal_retention", "history", "cutover_concurrency",
                                                  "lag_summary_interval", "exposure_window", "sources"])
        let listen = try required(top, "listen", in: root)
        let (host, port) = try hostPort(listen)

        let tokensNode = try required(top, "tokens", in: root)
        let tokens = try mapping(tokensNode, allowed: ["read", "admin"])
        let readNode = try required(tokens, "read", in: tokensNode)
        let readTokens = try self.tokens(readNode)
        let adminNode = try required(tokens, "admin", in: tokensNode)
        let adminTokens = try self.tokens(adminNode)
        if readTokens.contains(where: { read in adminTokens.contains { $0.sameBytes(read) } }) {
            throw fail(adminNode, "an admin token is also a read token: every read holder would be an admin; give each role its own")
        }

        let journal = try journalLocation(try required(top, "journal", in: root))
        let history = try top["history"].map { try int($0, range: 10...1_000_000) } ?? SyncdConfig.defaultHistorySize

        let sourcesNode = try required(top, "sources", in: root)
        guard case let .sequence(sequence) = sourcesNode.node else {
            throw fail(sourcesNode, "expected a list of sources, got \(describe(sourcesNode.node))")
        }
        guard !sequence.isEmpty else { throw fail(sourcesNode, "at least one source is required") }
        var sources: [SourceConfig] = []
        for (index, item) in sequence.enumerated() {
            let source = try self.source(ConfigNode(node: item, path: "sources[\(index)]"), kinds: kinds)
            if sources.contains(where: { $0.name == source.name }) {
                throw fail(ConfigNode(node: item, path: "sources[\(index)].name"), "duplicate source name '\(source.name)'")
            }
            sources.append(source)
        }
        var config = SyncdConfig(file: file, listenHost: host, listenPort: port, readTokens: readTokens, adminTokens: adminTokens,
                                 journal: journal, historySize: history, sources: sources)
        if let node = top["tls"] { config.tls = try tlsFiles(node) }
        if let node = top["instance"] { config.instance = try instance(node) }
        if let node = top["lease_ttl"] {
            config.leaseTTLSeconds = try duration(node, max: 300)
            guard config.leaseTTLSeconds >= 2 else { throw fail(node, "must be at least 2s (it is renewed every third of it)") }
        }
        if let node = top["cutover_concurrency"] { config.cutoverConcurrency = try int(node, range: 1...64) }
        if let node = top["lag_summary_interval"] { config.lagSummaryIntervalSeconds = try duration(node) }
        if let node = top["exposure_window"] { config.exposureWindowSeconds = try duration(node) }
        if let node = top["journal_retention"] {
            if case let .scalar(scalar) = node.node, scalar.string == "forever" {
                config.journalRetentionSeconds = nil
            } else {
                let retention = try duration(node)
                // Shorter than the exposure window would prune the lag summaries a cutover reads.
                guard retention >= max(config.exposureWindowSeconds, 86_400) else {
                    throw fail(node, "journal_retention (\(DurationText.describe(retention))) must be at least a day and at least exposure_window (\(DurationText.describe(config.exposureWindowSeconds))), or 'forever'")
                }
                config.journalRetentionSeconds = retention
            }
        }
        if config.exposureWindowSeconds < config.lagSummaryIntervalSeconds {
            throw fail(top["exposure_window"] ?? root, "exposure_window (\(DurationText.describe(config.exposureWindowSeconds))) is shorter than lag_summary_interval (\(DurationText.describe(config.lagSummaryIntervalSeconds))): it would never see a summary")
        }
        return config
    }

    /// `journal: PATH` (an SQLite file, writable now) or `journal: {postgres: {host, port, user,
    /// password, database, sslmode, connect_timeout}}` (a database several instances share).
    func journalLocation(_ at: ConfigNode) throws -> JournalLocation {
        if case .scalar = at.node {
            let path = resolvePath(try string(at))
            if let problem = journalPathProblem(path) { throw fail(at, problem) }
            return .sqlite(path: path)
        }
        let map = try mapping(at, allowed: ["postgres"])
        let node = try required(map, "postgres", in: at)
        var (endpoint, keys) = try endpoint(node, defaultPort: 5432, extra: ["database", "sslmode"])
        endpoint.user = try string(try required(keys, "user", in: node))
        endpoint.database = try keys["database"].map(string) ?? "syncd"
        return .postgres(endpoint, sslmode: try keys["sslmode"].map(sslmode))
    }

    /// libpq's `sslmode`, one of its six words.
    public func sslmode(_ at: ConfigNode) throws -> String {
        let mode = try string(at)
        guard JournalLocation.sslModes.contains(mode) else {
            throw fail(at, "unknown sslmode '\(mode)' (known: \(JournalLocation.sslModes.joined(separator: ", ")))")
        }
        return mode
    }

    /// A path (relative to the config file) that is a readable regular file now.
    func readableFile(_ node: ConfigNode) throws -> String {
        let path = resolvePath(try string(node))
        if let problem = Self.regularFileProblem(path) { throw fail(node, "cannot read \(path): \(problem)") }
        return path
    }

    /// `instance: {id, site, url}`: names this syncd among the instances sharing a journal.
    func instance(_ at: ConfigNode) throws -> InstanceIdentity {
        let map = try mapping(at, allowed: ["id", "site", "url", "ca"])
        let idNode = try required(map, "id", in: at)
        let id = try string(idNode)
        guard id.unicodeScalars.allSatisfy({ ConfigReader.nameCharacters.contains($0) }) else {
            throw fail(idNode, "'\(id)' may contain only letters, digits, '_', '.' and '-'")
        }
        var url: String?
        if let node = map["url"] {
            let text = try string(node)
            guard let parsed = URL(string: text), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw fail(node, "expected the URL the other instances reach this one's API at, e.g. https://syncd-dr.example:8443, got '\(text)'")
            }
            url = text
        }
        return InstanceIdentity(id: id, site: try map["site"].map(string) ?? "default", url: url, caFile: try map["ca"].map(readableFile))
    }

    /// `tls: {cert, key, client_ca}`: paths of PEM files (relative to the config file), each a
    /// readable regular file now; what they hold is checked by the API's TLS loader.
    func tlsFiles(_ at: ConfigNode) throws -> TLSFiles {
        let map = try mapping(at, allowed: ["cert", "key", "client_ca"])
        func file(_ node: ConfigNode) throws -> ConfigFile {
            ConfigFile(path: try readableFile(node), location: fail(node, ""))
        }
        return TLSFiles(cert: try file(try required(map, "cert", in: at)), key: try file(try required(map, "key", in: at)),
                        clientCA: try map["client_ca"].map(file))
    }

    /// `check_interval` (from a second to 30 days), with an optional `check_window` ("01:00-05:00")
    /// in `time_zone` (an IANA name, UTC by default); the window and zone need the interval.
    func checkSchedule(_ map: [String: ConfigNode], at: ConfigNode) throws -> CheckSchedule? {
        guard let intervalNode = map["check_interval"] else {
            if let node = map["check_window"] ?? map["time_zone"] {
                throw fail(node, "needs check_interval: the window and time zone only say when scheduled checks may run")
            }
            return nil
        }
        var schedule = CheckSchedule(intervalSeconds: try duration(intervalNode, max: 30 * 86_400))
        if let node = map["time_zone"] {
            let name = try string(node)
            guard let zone = TimeZone(identifier: name) else {
                throw fail(node, "unknown time zone '\(name)' (an IANA name such as UTC, Europe/Berlin or America/New_York)")
            }
            schedule.timeZone = zone
        }
        if let node = map["check_window"] {
            let text = try string(node)
            guard let window = CheckSchedule.Window.parse(text) else {
                throw fail(node, "expected a daily window HH:MM-HH:MM such as 01:00-05:00 (it may cross midnight: 22:00-02:00), got '\(text)'")
            }
            schedule.window = window
        }
        return schedule
    }

    public func hostPort(_ at: ConfigNode) throws -> (String, Int) {
        try hostPort(try string(at), at: at)
    }

    public func hostPort(_ text: String, at: ConfigNode) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":") else { throw fail(at, "expected host:port, got '\(text)'") }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw fail(at, "expected host:port with a port from 1 to 65535, got '\(text)'")
        }
        return (host, port)
    }

    static let nameCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")

    func source(_ at: ConfigNode, kinds: [SourceDescriptor]) throws -> SourceConfig {
        guard case let .mapping(mapping) = at.node else { throw fail(at, "expected a mapping describing one source") }
        // Kind first: it decides which other keys are allowed.
        var kindNode: ConfigNode?
        for (key, value) in mapping where key.string == "kind" {
            kindNode = ConfigNode(node: value, path: at.child("kind"))
        }
        guard let kindNode else { throw fail(at, "missing required key 'kind'") }
        let kindText = try string(kindNode)
        guard let kind = kinds.first(where: { $0.kind.rawValue == kindText }) else {
            throw fail(kindNode, "unknown kind '\(kindText)' (known: \(kinds.map(\.kind.rawValue).joined(separator: ", ")))")
        }

        let common = ["name", "kind", "primary", "dr", "poll_interval", "poll_timeout", "lag_budget", "check_max_age", "ratio_threshold",
                      "check_interval", "check_window", "time_zone"]
        let map = try self.mapping(at, allowed: common + kind.optionKeys)
        let nameNode = try required(map, "name", in: at)
        let name = try string(nameNode)
        guard name.unicodeScalars.allSatisfy({ ConfigReader.nameCharacters.contains($0) }) else {
            throw fail(nameNode, "'\(name)' may contain only letters, digits, '_', '.' and '-' (it appears in URLs)")
        }
        guard name.contains(where: { $0 != "." }) else {
            throw fail(nameNode, "'\(name)' is a path step in a URL (/v1/sources/\(name)), not a name: use letters or digits")
        }
        let primary = try kind.readEndpoint(self, try required(map, "primary", in: at))
        let dr = try kind.readEndpoint(self, try required(map, "dr", in: at))
        let poll = try map["poll_interval"].map { try duration($0, max: 3600) } ?? kind.defaults.pollIntervalSeconds
        let budget = try map["lag_budget"].map { try duration($0) } ?? kind.defaults.lagBudgetSeconds
        let maxAge = try map["check_max_age"].map { try duration($0) } ?? SyncdConfig.defaultCheckMaxAgeSeconds
        var threshold = GatePolicy.defaultRatioThreshold
        if let node = map["ratio_threshold"] {
            threshold = try double(node)
            guard threshold > 0, threshold <= 1 else { throw fail(node, "must be greater than 0 and at most 1, got \(threshold)") }
        }
        let timeout = try map["poll_timeout"].map { try duration($0, max: 3600) } ?? kind.defaults.pollTimeoutSeconds
        // A sample is evidence of the present for one interval plus the time the next poll may take.
        let policy = GatePolicy(lagBudgetSeconds: budget, checkMaxAgeSeconds: maxAge, ratioThreshold: threshold,
                                sampleMaxAgeSeconds: GatePolicy.sampleMaxAge(pollInterval: poll, pollTimeout: timeout))
        let own = map.filter { !common.contains($0.key) }
        let options = try kind.readOptions(self, SourceSection(name: name, node: at, keys: own))
        var source = SourceConfig(name: name, kind: kind.kind, primary: primary, dr: dr, pollIntervalSeconds: poll,
                                  pollTimeoutSeconds: timeout, policy: policy, options: options)
        source.checkSchedule = try checkSchedule(map, at: at)
        return source
    }
}

/// Durations as operators write them: 500ms, 30s, 5m, 1h, 1.5s; a bare number is seconds.
public enum DurationText {
    public static func parse(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            guard let value = Double(trimmed.dropLast(suffix.count)), value.isFinite, value >= 0 else { return nil }
            return value * factor
        }
        guard let value = Double(trimmed), value.isFinite, value >= 0 else { return nil }
        return value
    }

    /// The way an operator writes a duration, in a form `parse` reads back: 7d, 24h, 90m, 45s, 1.5s, 250ms.
    public static func describe(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "\(seconds)s" }
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        guard seconds.rounded() == seconds else { return String(format: "%.1fs", seconds) }
        guard seconds < 1e15 else { return "\(seconds)s" }
        let whole = Int(seconds)
        if whole % 86_400 == 0, whole >= 7 * 86_400 { return "\(whole / 86_400)d" }
        if whole % 3600 == 0 { return "\(whole / 3600)h" }
        if whole % 60 == 0 { return "\(whole / 60)m" }
        return "\(whole)s"
    }
}
