import Foundation
import SyncCore

/// Where the servers of integration/ are, for every kind, in one place: from the environment their
/// scripts export (`integration/<kind>.sh env`), defaulting to the scripts' fixed ports, and how to
/// run those scripts (start, stop, freeze, thaw). When the servers are not running the tests fail
/// with a message saying how to start them: they never skip.
public enum IntegrationServers {
    static let environment = ProcessInfo.processInfo.environment

    static func value(_ name: String, _ fallback: String) -> String {
        environment[name] ?? fallback
    }

    static func port(_ name: String, _ fallback: Int) -> Int {
        environment[name].flatMap(Int.init) ?? fallback
    }

    /// The gate policy the adapter tests use unless they say otherwise.
    public static func policy(lagBudget: Double) -> GatePolicy {
        GatePolicy(lagBudgetSeconds: lagBudget, checkMaxAgeSeconds: 900, ratioThreshold: GatePolicy.defaultRatioThreshold, sampleMaxAgeSeconds: 10)
    }

    /// integration/pg.sh: a primary with a streaming standby, a publisher with a subscriber.
    public enum Postgres {
        public static let host = value("SYNCD_PG_HOST", "127.0.0.1")
        public static let user = value("SYNCD_PG_USER", "syncd")
        public static let password = value("SYNCD_PG_PASSWORD", "syncd-demo-password")
        public static let database = value("SYNCD_PG_DATABASE", "appdb")

        /// PRIMARY, STANDBY, PUBLISHER or SUBSCRIBER.
        public static func port(_ node: String, _ fallback: Int) -> Int { IntegrationServers.port("SYNCD_PG_\(node)_PORT", fallback) }

        public static func endpoint(_ port: Int, password: String? = nil) -> EndpointConfig {
            EndpointConfig(host: host, port: port, user: user, password: Secret(password ?? self.password), database: database,
                           connectTimeoutSeconds: 3)
        }

        public static func script(_ arguments: [String]) async throws {
            try await runIntegrationScript("pg.sh", arguments, path: environment["SYNCD_PG_SCRIPT"])
        }
    }

    /// integration/redis.sh: a primary with a replica, and an independent DR instance.
    public enum Redis {
        public static let host = value("SYNCD_REDIS_HOST", "127.0.0.1")
        public static let user = value("SYNCD_REDIS_USER", "syncd")
        public static let password = value("SYNCD_REDIS_PASSWORD", "syncd-demo-password")

        /// PRIMARY, REPLICA or INDEPENDENT.
        public static func port(_ node: String, _ fallback: Int) -> Int { IntegrationServers.port("SYNCD_REDIS_\(node)_PORT", fallback) }

        public static func endpoint(_ port: Int, password: String? = nil) -> EndpointConfig {
            EndpointConfig(host: host, port: port, user: user, password: Secret(password ?? self.password), connectTimeoutSeconds: 2)
        }

        public static func script(_ arguments: [String]) async throws {
            try await runIntegrationScript("redis.sh", arguments)
        }
    }

    /// integration/kafka.sh: two librdkafka mock clusters on ports the kernel picks.
    public enum Kafka {
        public static let stateDirectory = value("SYNCD_KAFKA_DIR", "/var/tmp/syncd-kafka")

        public static func bootstrap(_ side: Side) throws -> String {
            if let value = environment[side == .primary ? "SYNCD_KAFKA_PRIMARY" : "SYNCD_KAFKA_DR"] { return value }
            let file = "\(stateDirectory)/\(side == .primary ? "primary" : "dr").bootstrap"
            guard let text = try? String(contentsOfFile: file, encoding: .utf8), !text.isEmpty else {
                throw TestSetupError("the Kafka mock clusters are not running (no \(file)). Start them with: integration/kafka.sh start")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        public static func endpoint(_ side: Side) throws -> EndpointConfig {
            let address = try bootstrap(side)
            let parts = address.split(separator: ":")
            // The adapter's own endpoint options (the bootstrap list) are set by the Kafka tests.
            return EndpointConfig(host: String(parts[0]), port: Int(parts[1]) ?? 9092, connectTimeoutSeconds: 2)
        }

        public static func script(_ arguments: [String]) async throws {
            try await runIntegrationScript("kafka.sh", arguments)
        }
    }

    /// integration/s3.sh: two SeaweedFS clusters, weed filer.sync replicating one bucket.
    public enum S3 {
        public static let primaryURL = value("SYNCD_S3_PRIMARY", "http://127.0.0.1:28333")
        public static let drURL = value("SYNCD_S3_DR", "http://127.0.0.1:28433")
        public static let access = value("SYNCD_S3_ACCESS", "syncd-access")
        public static let secret = value("SYNCD_S3_SECRET", "syncd-demo-secret")
        /// May read and list, not write (same secret).
        public static let readerAccess = value("SYNCD_S3_READER_ACCESS", "syncd-reader")
        /// The bucket weed filer.sync replicates from the primary to the DR cluster.
        public static let replicatedBucket = value("SYNCD_S3_SYNC_BUCKET", "replicated")

        public static func url(_ side: Side) -> String { side == .primary ? primaryURL : drURL }

        /// Host and port of a side's S3 endpoint; the bucket and keys are the object-store tests' own options.
        public static func endpoint(_ side: Side, url: String? = nil) -> EndpointConfig {
            let parsed = URLComponents(string: url ?? self.url(side))
            return EndpointConfig(host: parsed?.host ?? "127.0.0.1", port: parsed?.port ?? 80, connectTimeoutSeconds: 2)
        }

        public static func script(_ arguments: [String]) async throws {
            try await runIntegrationScript("s3.sh", arguments)
        }
    }
}
