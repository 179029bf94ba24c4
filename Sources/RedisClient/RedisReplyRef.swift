import CHiredis
import CHiredisArena
import Foundation
import SyncCore

/// A reply still owned by hiredis: valid only inside the closure that received it, so large
/// replies are digested in place instead of being copied into Swift values.
public struct RedisReplyRef {
    /// nil stands for an element hiredis did not fill in; it reads as a null reply.
    let pointer: UnsafeMutablePointer<redisReply>?

    public enum Kind { case string, array, integer, null, status, error }

    public var kind: Kind {
        guard let pointer else { return .null }
        return switch pointer.pointee.type {
        case REDIS_REPLY_STRING: .string
        case REDIS_REPLY_ARRAY: .array
        case REDIS_REPLY_INTEGER: .integer
        case REDIS_REPLY_STATUS: .status
        case REDIS_REPLY_ERROR: .error
        default: .null
        }
    }

    public var integer: Int64 { Int64(pointer?.pointee.integer ?? 0) }

    /// The bytes of a string, status or error reply.
    public var bytes: UnsafeRawBufferPointer {
        guard let pointer, let str = pointer.pointee.str else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: str, count: pointer.pointee.len)
    }

    public var count: Int {
        guard let pointer, pointer.pointee.type == REDIS_REPLY_ARRAY, pointer.pointee.element != nil else { return 0 }
        return pointer.pointee.elements
    }

    /// Element `index` of an array reply; out of range, or not an array, it reads as null.
    public subscript(index: Int) -> RedisReplyRef {
        guard index >= 0, index < count, let elements = pointer?.pointee.element else { return RedisReplyRef(pointer: nil) }
        return RedisReplyRef(pointer: elements[index])
    }

    public var errorMessage: String? {
        kind == .error ? String(decoding: bytes, as: UTF8.self) : nil
    }

    /// A copy that outlives the reply.
    public var value: RedisValue {
        switch kind {
        case .string: .string(Array(bytes))
        case .status: .status(String(decoding: bytes, as: UTF8.self))
        case .error: .error(String(decoding: bytes, as: UTF8.self))
        case .integer: .integer(integer)
        case .null: .null
        case .array: .array((0..<count).map { self[$0].value })
        }
    }

    /// The reply as an integer, or an error naming what came instead.
    public func expectInteger(_ what: @autoclosure () -> String) throws -> Int64 {
        switch kind {
        case .integer: return integer
        case .error: throw RedisError(kind: .server, message: "\(what()): \(errorMessage ?? "")")
        default: throw RedisError(kind: .protocolViolation, message: "\(what()): expected an integer reply")
        }
    }
}
