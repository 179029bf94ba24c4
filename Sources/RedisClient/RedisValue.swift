import CHiredis
import CHiredisArena
import Foundation
import SyncCore

/// A reply copied out of hiredis, safe to keep.
public indirect enum RedisValue: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisValue])
    case null
    case error(String)

    public var text: String? {
        switch self {
        case let .string(bytes): String(decoding: bytes, as: UTF8.self)
        case let .status(text): text
        case let .integer(value): String(value)
        default: nil
        }
    }

    public var integer: Int64? {
        if case let .integer(value) = self { return value }
        return nil
    }

    public var bytes: [UInt8]? {
        if case let .string(bytes) = self { return bytes }
        return nil
    }
}
