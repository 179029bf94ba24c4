import Foundation
import Testing
@testable import RedisClient
@testable import RedisSource
@testable import SyncCore
import TestSupport

/// Every suite that uses the shared servers nests here, so they run one test at a time even when
/// `swift test` runs suites in parallel.
@Suite(.serialized) enum RedisServers {}

/// The Redis servers of integration/redis.sh (located by TestSupport's IntegrationServers), as
/// the Redis tests use them.
enum TestRedis {
    typealias Servers = IntegrationServers.Redis
    static let host = Servers.host
    static let primary = Servers.endpoint(Servers.port("PRIMARY", 26379))
    static let replica = Servers.endpoint(Servers.port("REPLICA", 26380))
    static let independent = Servers.endpoint(Servers.port("INDEPENDENT", 26381))

    static func endpoint(_ port: Int, password: String? = nil) -> EndpointConfig {
        Servers.endpoint(port, password: password)
    }

    static func source(_ name: String, dr: EndpointConfig, mode: RedisOptions.Mode, primary: EndpointConfig = TestRedis.primary,
                       databases: [Int] = [0], heartbeatKey: String? = nil, lagBudget: Double = 5) -> SourceConfig {
        SourceConfig(name: name, kind: .redis, primary: primary, dr: dr, pollIntervalSeconds: 0.2,
                     pollTimeoutSeconds: RedisSource.descriptor.defaults.pollTimeoutSeconds,
                     policy: IntegrationServers.policy(lagBudget: lagBudget),
                     options: RedisOptions(mode: mode, databases: databases, heartbeatKey: heartbeatKey))
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
        try await Servers.script(arguments)
    }
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
