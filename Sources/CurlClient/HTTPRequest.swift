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
    public var connectTimeoutSeconds: Int
    public var timeoutSeconds: Int

    public init(method: String, url: String, headers: [String] = [], body: RequestBody? = nil, signing: RequestSigning? = nil,
                verifyTLS: Bool = true, connectTimeoutSeconds: Int, timeoutSeconds: Int) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.signing = signing
        self.verifyTLS = verifyTLS
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.timeoutSeconds = timeoutSeconds
    }
}
