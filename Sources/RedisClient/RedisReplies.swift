import CHiredis
import CHiredisArena
import Foundation
import SyncCore

/// Reads the replies of one pipeline in order. Replies live in the connection's arena, which is
/// emptied when the next reply is read, so a `RedisReplyRef` must be fully used (copied or
/// digested) before calling `next()` again.
public struct RedisReplies: ~Copyable {
    let context: UnsafeMutablePointer<redisContext>
    let arena: OpaquePointer
    var remaining: Int

    public var pending: Int { remaining }

    public mutating func next() throws -> RedisReplyRef {
        guard remaining > 0 else {
            throw RedisError(kind: .protocolViolation, message: "read past the end of a pipeline")
        }
        return RedisReplyRef(pointer: try read())
    }

    private mutating func read() throws -> UnsafeMutablePointer<redisReply> {
        syncd_arena_reset(arena)
        var reply: UnsafeMutableRawPointer?
        guard redisGetReply(context, &reply) == REDIS_OK, let reply else {
            throw RedisError(kind: .connection, message: RedisConnection.contextError(context))
        }
        remaining -= 1
        return reply.assumingMemoryBound(to: redisReply.self)
    }

    /// Reads whatever the caller did not read, so the connection stays in step, then lets go of
    /// the last reply's memory.
    mutating func finish() throws {
        while remaining > 0 { _ = try read() }
        syncd_arena_reset(arena)
    }
}
