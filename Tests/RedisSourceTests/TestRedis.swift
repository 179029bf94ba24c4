import Foundation
import Testing
@testable import RedisSource
@testable import SyncCore
import TestSupport

/// Every suite that uses the shared servers nests here, so they run one test at a time even when
/// `swift test` runs suites in parallel.
@Suite(.serialized) enum RedisServers {}

/// The servers started by integration/redis.sh. Addresses come from the environment that script
/// exports (`integration/redis.sh env`), defaulting to its fixed ports. When they are not running,
/// the tests fail with a message saying how to start them: they never skip.
enum TestRedis {
    static let environment = ProcessInfo.processInfo.environment
    static let host = environment["SYNCD_REDIS_HOST"] ?? "127.0.0.1"
    static let user = environment["SYNCD_REDIS_USER"] ?? "syncd"
    static let password = environment["SYNCD_REDIS_PASSWORD"] ?? "syncd-demo-password"

    static func port(_ name: String, _ fallback: Int) -> Int {
        environment["SYNCD_REDIS_\(name)_PORT"].flatMap(Int.init) ?? fallback
    }

    static let primary = endpoint(port("PRIMARY", 26379))
    static let replica = endpoint(port("REPLICA", 26380))
    static let independent = endpoint(port("INDEPENDENT", 26381))

    static func endpoint(_ port: Int, password: String? = nil) -> EndpointConfig {
        EndpointConfig(host: host, port: port, user: user, password: Secret(password ?? self.password), connectTimeoutSeconds: 2)
    }

    static func source(_ name: String, dr: EndpointConfig, mode: RedisOptions.Mode, primary: EndpointConfig = TestRedis.primary,
                       databases: [Int] = [0], heartbeatKey: String? = nil, lagBudget: Double = 5) -> SourceConfig {
        SourceConfig(name: name, kind: .redis, primary: primary, dr: dr, pollIntervalSeconds: 0.2,
                     policy: GatePolicy(lagBudgetSeconds: lagBudget, checkMaxAgeSeconds: 900, ratioThreshold: 0.99999, sampleMaxAgeSeconds: 10),
                     redis: RedisOptions(mode: mode, databases: databases, heartbeatKey: heartbeatKey))
    }

    static var replicaPair: SourceConfig { source("redis-replica", dr: replica, mode: .replica) }
    static var independentPair: SourceConfig { source("redis-dr", dr: independent, mode: .independent) }

    /// A direct connection for the test's own reads and writes (not through the adapter).
    static func connect(_ endpoint: EndpointConfig, database: Int = 0) async throws -> RedisConnection {
        do {
            return try await RedisConnection.connect(RedisConnectionParameters(endpoint: endpoint, database: database))
        } catch {
            throw TestSetupError("cannot reach the Redis test server at \(endpoint.host):\(endpoint.port): \(error). Start them with: integration/redis.sh start")
        }
    }

    /// Runs integration/redis.sh (reset, freeze, thaw).
    static func script(_ arguments: String...) async throws {
        try await runIntegrationScript("redis.sh", arguments)
    }
}

/// Redis answers within milliseconds: poll often.
func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws -> Bool {
    try await TestSupport.eventually(timeout: timeout, every: .milliseconds(100), condition)
}

extension RedisConnection {
    /// Runs one command given as words; fails the test on an error reply.
    @discardableResult
    func run(_ words: String...) async throws -> RedisValue {
        let reply = try await command(RedisCommand(words))
        if case let .error(message) = reply { throw TestSetupError("\(words.joined(separator: " ")): \(message)") }
        return reply
    }

    func info(_ section: String) async throws -> [String: String] {
        parseInfo(try await run("INFO", section).text ?? "")
    }
}
