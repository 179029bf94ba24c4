import CCurl
import CCurlShim
import Foundation
import SyncCore

/// One HTTP request as the pool runs it.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [String]
    public var body: RequestBody?
    public var signing: RequestSigning?
    public var verifyTLS: Bool
    /// A CA bundle to trust instead of the system's, and a client certificate for mutual TLS.
    public var tls: TLSClientFiles?
    public var connectTimeoutSeconds: Int
    public var timeoutSeconds: Int

    public init(method: String, url: String, headers: [String] = [], body: RequestBody? = nil, signing: RequestSigning? = nil,
                verifyTLS: Bool = true, tls: TLSClientFiles? = nil, connectTimeoutSeconds: Int, timeoutSeconds: Int) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.signing = signing
        self.verifyTLS = verifyTLS
        self.tls = tls
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.timeoutSeconds = timeoutSeconds
    }
}

/// PEM files a client presents or trusts (paths; curl reads them at each transfer).
public struct TLSClientFiles: Sendable, Equatable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }
}
