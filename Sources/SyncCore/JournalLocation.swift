import Foundation

/// Where the audit journal lives.
public enum JournalLocation: Sendable, Equatable, CustomStringConvertible {
    /// An embedded SQLite file: one instance, no other server needed.
    case sqlite(path: String)
    /// A PostgreSQL database that several syncd instances share (one hash chain, one leader lease).
    case postgres(EndpointConfig, sslmode: String?)

    /// libpq's sslmode values.
    public static let sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

    public var description: String {
        switch self {
        case let .sqlite(path): path
        case let .postgres(endpoint, _): "postgresql://\(endpoint.user.map { "\($0)@" } ?? "")\(endpoint.host):\(endpoint.port)/\(endpoint.database ?? "")"
        }
    }
}
