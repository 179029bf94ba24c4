import Foundation
import SyncCore

/// Where a request's body comes from: bytes in memory or a byte range of a file, streamed.
public enum RequestBody: Sendable {
    case bytes([UInt8])
    case file(path: String, offset: Int64, length: Int64)

    public var length: Int64 {
        switch self {
        case let .bytes(bytes): Int64(bytes.count)
        case let .file(_, _, length): length
        }
    }
}
