import Foundation
import Testing
@testable import PostgresClient
@testable import PostgresSource
@testable import SyncCore
import TestSupport

/// The PostgreSQL servers of integration/pg.sh (located by TestSupport's IntegrationServers), as
/// the PostgreSQL tests use them.
enum TestServers {
    typealias Servers = IntegrationServers.Postgres
    static let primary = Servers.endpoint(Servers.port("PRIMARY", 25432))
    static let standby = Servers.endpoint(Servers.port("STANDBY", 25433))
    static let publisher = Servers.endpoint(Servers.port("PUBLISHER", 25434))
    static let subscriber = Servers.endpoint(Servers.port("SUBSCRIBER", 25435))

    static func endpoint(_ port: Int, password: String? = nil) -> EndpointConfig {
        Servers.endpoint(port, password: password)
    }

    static func source(_ name: String, primary: EndpointConfig, dr: EndpointConfig, mode: PostgresOptions.Mode = .auto,
                       subscription: String? = nil, lagBudget: Double = 30) -> SourceConfig {
        SourceConfig(name: name, kind: .postgres, primary: primary, dr: dr, pollIntervalSeconds: 0.2,
                     pollTimeoutSeconds: PostgresSource.descriptor.defaults.pollTimeoutSeconds,
                     policy: IntegrationServers.policy(lagBudget: lagBudget),
                     options: PostgresOptions(mode: mode, subscription: subscription))
    }

    static var physical: SourceConfig { source("pg-physical", primary: primary, dr: standby, mode: .physical) }
    static var logical: SourceConfig { source("pg-logical", primary: publisher, dr: subscriber, mode: .logical, subscription: "syncd_sub") }

    /// A direct connection for the test's own reads and writes (not through the adapter).
    static func connect(_ endpoint: EndpointConfig) async throws -> PGConnection {
        do {
            return try await PGConnection.connect(PGConnectionParameters(endpoint: endpoint, applicationName: "syncd-tests"))
        } catch {
            throw TestSetupError("cannot reach the PostgreSQL test server at \(endpoint.host):\(endpoint.port): \(error). Start them with: integration/pg.sh start")
        }
    }

    /// Runs integration/pg.sh (e.g. to stop and start the standby).
    static func script(_ arguments: String...) async throws {
        try await Servers.script(arguments)
    }
}

/// Writes `rows` rows of about 200 bytes each to the events table, making WAL the DR side must apply.
func writeEvents(_ connection: PGConnection, rows: Int = 2000) async throws {
    try await connection.query(
        "INSERT INTO events (account_id, payload) SELECT g, repeat(md5(g::text), 6) FROM generate_series(1, $1::int) g",
        [String(rows)])
}
