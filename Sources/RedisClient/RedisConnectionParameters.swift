import CHiredis
import CHiredisArena
import Foundation
import SyncCore

/// How to reach one Redis server.
public struct RedisConnectionParameters: Sendable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: Secret?
    public var database: Int
    public var connectTimeout: Duration
    /// Bounds every reply wait, so a hung server becomes an error instead of a stuck poll loop.
    public var commandTimeout: Duration

    public init(endpoint: EndpointConfig, database: Int = 0, commandTimeout: Duration = .seconds(15)) {
        host = endpoint.host
        port = endpoint.port
        username = endpoint.user
        password = endpoint.password
        self.database = database
        connectTimeout = .seconds(endpoint.connectTimeoutSeconds)
        self.commandTimeout = commandTimeout
    }

    public var displayName: String { "\(host):\(port)/\(database)" }
}
