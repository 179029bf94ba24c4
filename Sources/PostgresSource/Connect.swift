import SyncCore

/// "primary db1:5432" / "DR db2:5432": how every message names a side.
func describeSide(_ side: Side, _ endpoint: EndpointConfig) -> String {
    "\(side == .primary ? "primary" : "DR") \(endpoint.host):\(endpoint.port)"
}

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

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunks(of size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: Swift.max(1, size)).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
