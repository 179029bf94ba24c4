import Foundation
import Testing
@testable import PostgresSource
@testable import SyncCore
import TestSupport

/// The servers started by integration/pg.sh. Addresses come from the environment that script
/// exports (`integration/pg.sh env`), defaulting to its fixed ports. When they are not running,
/// the tests fail with a message saying how to start them: they never skip.
enum TestServers {
    static let environment = ProcessInfo.processInfo.environment
    static let host = environment["SYNCD_PG_HOST"] ?? "127.0.0.1"
    static let user = environment["SYNCD_PG_USER"] ?? "syncd"
    static let password = environment["SYNCD_PG_PASSWORD"] ?? "syncd-demo-password"
    static let database = environment["SYNCD_PG_DATABASE"] ?? "appdb"

    static func port(_ name: String, _ fallback: Int) -> Int {
        environment["SYNCD_PG_\(name)_PORT"].flatMap(Int.init) ?? fallback
    }

    static let primary = endpoint(port("PRIMARY", 25432))
    static let standby = endpoint(port("STANDBY", 25433))
    static let publisher = endpoint(port("PUBLISHER", 25434))
    static let subscriber = endpoint(port("SUBSCRIBER", 25435))

    static func endpoint(_ port: Int, password: String? = nil) -> EndpointConfig {
        EndpointConfig(host: host, port: port, user: user, password: Secret(password ?? self.password), database: database,
                       connectTimeoutSeconds: 3)
    }

    static func source(_ name: String, primary: EndpointConfig, dr: EndpointConfig, mode: PostgresOptions.Mode = .auto,
                       subscription: String? = nil, lagBudget: Double = 30) -> SourceConfig {
        SourceConfig(name: name, kind: .postgres, primary: primary, dr: dr, pollIntervalSeconds: 0.2,
                     policy: GatePolicy(lagBudgetSeconds: lagBudget, checkMaxAgeSeconds: 900, ratioThreshold: 0.99999, sampleMaxAgeSeconds: 10),
                     postgres: PostgresOptions(mode: mode, subscription: subscription))
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
        try await runIntegrationScript("pg.sh", arguments, path: environment["SYNCD_PG_SCRIPT"])
    }
}

/// Writes `rows` rows of about 200 bytes each to the events table, making WAL the DR side must apply.
func writeEvents(_ connection: PGConnection, rows: Int = 2000) async throws {
    try await connection.query(
        "INSERT INTO events (account_id, payload) SELECT g, repeat(md5(g::text), 6) FROM generate_series(1, $1::int) g",
        [String(rows)])
}
