import Foundation
import SyncCore

/// How libcurl signs a request (AWS SigV4, CURLOPT_AWS_SIGV4).
public struct RequestSigning: Sendable {
    public var region: String
    public var accessKey: String
    public var secretKey: String

    public init(region: String, accessKey: String, secretKey: String) {
        self.region = region
        self.accessKey = accessKey
        self.secretKey = secretKey
    }
}
