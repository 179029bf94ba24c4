import Foundation
import SyncCore

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Lower-cased header names.
    public var headers: [String: String]
    /// The body, unless it went to a sink.
    public var body: [UInt8]
}
