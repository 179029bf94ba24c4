import PostgresClient
import SyncCore

extension PGConnection {
    /// Connects to one side; a failure is that side being unreachable, with libpq's message.
    static func connect(to endpoint: EndpointConfig, side: Side, applicationName: String,
                        settings: [String: String] = [:]) async throws -> PGConnection {
        do {
            return try await connect(PGConnectionParameters(endpoint: endpoint, applicationName: applicationName, settings: settings))
        } catch let error as PostgresError {
            throw SyncError.unreachable(side: describeSide(side, endpoint), message: error.message)
        }
    }
}

/// WAL positions as PostgreSQL prints them (`16/B374D848`), from a byte position.
public func formatLSN(_ position: Int64) -> String {
    let value = UInt64(bitPattern: position)
    return String(format: "%X/%X", UInt32(truncatingIfNeeded: value >> 32), UInt32(truncatingIfNeeded: value))
}
