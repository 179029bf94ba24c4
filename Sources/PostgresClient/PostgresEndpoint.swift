import SyncCore

/// PostgreSQL's own endpoint setting; libpq's `sslmode` (disable ... verify-full).
public struct PostgresEndpointOptions: KindOptions, Equatable {

    public var sslmode: String?

    public init(sslmode: String? = nil) { self.sslmode = sslmode }
}

extension EndpointConfig {
    public var sslmode: String? {
        get { (options as? PostgresEndpointOptions)?.sslmode }
        set { options = PostgresEndpointOptions(sslmode: newValue) }
    }
}

extension ConfigReader {
    /// host, port, user (required), password, database (default postgres), sslmode, connect_timeout.
    public func postgresEndpoint(_ at: ConfigNode) throws -> EndpointConfig {
        var (endpoint, map) = try endpoint(at, defaultPort: 5432, extra: ["database", "sslmode"])
        endpoint.user = try string(try required(map, "user", in: at))
        endpoint.database = try map["database"].map(string) ?? "postgres"
        if let node = map["sslmode"] { endpoint.sslmode = try sslmode(node) }
        return endpoint
    }
}
