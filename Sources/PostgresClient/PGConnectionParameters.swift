import CLibPQ
import Foundation
import SyncCore

/// How to reach one PostgreSQL server. Passed to libpq as keyword/value pairs, so no value is
/// ever spliced into a conninfo string.
public struct PGConnectionParameters: Sendable {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: Secret?
    public var database: String?
    public var connectTimeoutSeconds: Int
    public var sslmode: String?
    public var applicationName: String
    /// Server settings for the session, e.g. ["statement_timeout": "15s"].
    public var settings: [String: String]

    public init(endpoint: EndpointConfig, applicationName: String = "syncd", settings: [String: String] = [:]) {
        host = endpoint.host
        port = endpoint.port
        user = endpoint.user
        password = endpoint.password
        database = endpoint.database
        connectTimeoutSeconds = endpoint.connectTimeoutSeconds
        sslmode = endpoint.sslmode
        self.applicationName = applicationName
        self.settings = settings
    }

    var keywordValues: [(String, String)] {
        var pairs: [(String, String)] = [
            ("host", host), ("port", String(port)), ("connect_timeout", String(connectTimeoutSeconds)),
            ("application_name", applicationName),
            // One bad server must not hang a poll loop: TCP keepalives detect a dead peer.
            ("keepalives", "1"), ("keepalives_idle", "10"), ("keepalives_interval", "5"), ("keepalives_count", "3"),
        ]
        if let user { pairs.append(("user", user)) }
        if let password { pairs.append(("password", password.value)) }
        if let database { pairs.append(("dbname", database)) }
        if let sslmode { pairs.append(("sslmode", sslmode)) }
        if !settings.isEmpty {
            let options = settings.sorted { $0.key < $1.key }.map { "-c \($0.key)=\($0.value)" }.joined(separator: " ")
            pairs.append(("options", options))
        }
        return pairs
    }

    public var displayName: String { "\(host):\(port)/\(database ?? "")" }
}
