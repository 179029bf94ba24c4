import CCurl
import CCurlShim
import Foundation
import SyncCore

/// A transfer failure below HTTP (connect, TLS, timeout) or an HTTP status with S3's error body.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case transport, status }
    public var kind: Kind
    public var status: Int
    /// S3's error code (NoSuchBucket, InvalidAccessKeyId, ...) when the body had one.
    public var code: String?
    public var message: String

    public init(kind: Kind, status: Int, code: String? = nil, message: String) {
        self.kind = kind
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String {
        switch kind {
        case .transport: message
        case .status: "HTTP \(status)" + (code.map { " \($0)" } ?? "") + (message.isEmpty ? "" : ": \(message)")
        }
    }
}
