import Foundation

/// A file named by the config, with where it was named, so a problem found later (a PEM that does
/// not parse) is reported as file:line:key like any other config error.
public struct ConfigFile: Sendable, Equatable {
    public var path: String
    /// The config error for this key, its message left empty.
    public var location: ConfigError

    public init(path: String, location: ConfigError) {
        self.path = path
        self.location = location
    }

    public func problem(_ message: String) -> ConfigError {
        var error = location
        error.message = "\(path): \(message)"
        return error
    }
}

/// The API's certificate, its key and, for mutual TLS, the CA that signs client certificates.
public struct TLSFiles: Sendable, Equatable {
    public var cert: ConfigFile
    public var key: ConfigFile
    public var clientCA: ConfigFile?

    public init(cert: ConfigFile, key: ConfigFile, clientCA: ConfigFile?) {
        self.cert = cert
        self.key = key
        self.clientCA = clientCA
    }
}
