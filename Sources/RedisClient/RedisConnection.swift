import CHiredis
import CHiredisArena
import Foundation
import SyncCore

/// One hiredis connection. Owns its `redisContext` and reply arena and frees them on deinit; every
/// hiredis call runs on the connection's own serial queue, off the cooperative pool.
public final class RedisConnection: @unchecked Sendable {
    // @unchecked: `context` and `arena` are used only inside `queue` (serial) and in deinit, when no one else holds us.
    private let context: UnsafeMutablePointer<redisContext>
    private let arena: OpaquePointer
    private let queue: BlockingQueue
    public let parameters: RedisConnectionParameters
    /// Set once an I/O error left the connection unusable (hiredis cannot recover a context).
    private let brokenFlag = BrokenFlag()
    /// The connection's socket, for interrupting a blocked read from another thread (shutdown(2)
    /// wakes it at once). Valid while this object lives: only deinit closes it.
    private let socket: Int32

    private init(context: UnsafeMutablePointer<redisContext>, arena: OpaquePointer, queue: BlockingQueue, parameters: RedisConnectionParameters) {
        self.context = context
        self.arena = arena
        self.queue = queue
        self.parameters = parameters
        socket = context.pointee.fd
    }

    deinit {
        redisFree(context)
        syncd_arena_free(arena)
    }

    public var isBroken: Bool { brokenFlag.value }

    /// hiredis writes with write(2), and Linux has no per-socket way to keep a write to a socket
    /// the server closed (a failover, a restart) from raising SIGPIPE, whose default action kills
    /// the process. Ignored process-wide before the first connection: the write fails with EPIPE
    /// and the connection is broken instead.
    private static let brokenPipesIgnored: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    /// Connects, authenticates (AUTH [username] password) and selects the database.
    public static func connect(_ parameters: RedisConnectionParameters) async throws -> RedisConnection {
        _ = brokenPipesIgnored
        let queue = BlockingQueue(label: "syncd.hiredis.\(parameters.displayName)")
        let box = try await queue.run { () throws -> UnsafeTransfer<(context: UnsafeMutablePointer<redisContext>, arena: OpaquePointer)> in
            let context = redisConnectWithTimeout(parameters.host, Int32(parameters.port), timeval(parameters.connectTimeout))
            guard let context else {
                throw RedisError(kind: .connection, message: "hiredis could not allocate a connection")
            }
            if context.pointee.err != 0 {
                let message = contextError(context)
                redisFree(context)
                throw RedisError(kind: .connection, message: "cannot connect to \(parameters.host):\(parameters.port): \(message)")
            }
            redisSetTimeout(context, timeval(parameters.commandTimeout))
            redisEnableKeepAlive(context)
            // Keep the read buffer between pipelines: by default hiredis frees it whenever it empties
            // past 16 KiB, so every batch of replies paid for a fresh allocation (and heap consolidation).
            context.pointee.reader.pointee.maxbuf = 0
            guard let arena = syncd_arena_attach(context) else {
                redisFree(context)
                throw RedisError(kind: .connection, message: "out of memory for the reply arena of \(parameters.displayName)")
            }
            return UnsafeTransfer((context: context, arena: arena))
        }
        let connection = RedisConnection(context: box.value.context, arena: box.value.arena, queue: queue, parameters: parameters)
        if let password = parameters.password {
            var words = ["AUTH"]
            if let username = parameters.username { words.append(username) }
            words.append(password.value)
            let reply = try await connection.command(RedisCommand(words))
            if case let .error(message) = reply {
                // The server's words (WRONGPASS ...) never contain the password itself.
                throw RedisError(kind: .connection, message: "authentication failed at \(parameters.host):\(parameters.port): \(message)")
            }
        }
        if parameters.database != 0 {
            let reply = try await connection.command(RedisCommand("SELECT", String(parameters.database)))
            if case let .error(message) = reply {
                throw RedisError(kind: .connection, message: "cannot select database \(parameters.database) at \(parameters.host):\(parameters.port): \(message)")
            }
        }
        return connection
    }

    /// One command; its reply copied out (error replies come back as `.error`, not thrown).
    public func command(_ command: RedisCommand) async throws -> RedisValue {
        try await pipeline([command]) { replies in
            try replies.next().value
        }
    }

    /// Sends every command in one write, then hands the replies, in order, to `body` on the
    /// connection's queue. Unread replies are drained, so the connection stays usable.
    public func pipeline<T: Sendable>(_ commands: [RedisCommand],
                                      _ body: @escaping @Sendable (inout RedisReplies) throws -> T) async throws -> T {
        var batch = RESPBatch()
        for command in commands { batch.append(command) }
        return try await pipeline(batch, body)
    }

    /// The same for commands already written into one RESP buffer. Cancelling the calling task
    /// interrupts a call waiting on the server (CancellationError) and retires the connection: its
    /// replies can no longer be matched to commands.
    public func pipeline<T: Sendable>(_ batch: RESPBatch,
                                      _ body: @escaping @Sendable (inout RedisReplies) throws -> T) async throws -> T {
        let flag = brokenFlag
        let socket = self.socket
        return try await withTaskCancellationHandler {
            try await run(batch, body)
        } onCancel: {
            flag.value = true
            _ = Glibc.shutdown(socket, Int32(SHUT_RDWR))
        }
    }

    private func run<T: Sendable>(_ batch: RESPBatch, _ body: @escaping @Sendable (inout RedisReplies) throws -> T) async throws -> T {
        let box = UnsafeTransfer((context: context, arena: arena))
        let flag = brokenFlag
        return try await queue.runCancellable { token in
            guard !flag.value else {
                if token.isCancelled { throw CancellationError() }
                throw RedisError(kind: .connection, message: "the connection was lost earlier; reconnect")
            }
            do {
                if batch.count > 0 {
                    let status = batch.bytes.withUnsafeBufferPointer { buffer in
                        buffer.withMemoryRebound(to: CChar.self) { redisAppendFormattedCommand(box.value.context, $0.baseAddress, $0.count) }
                    }
                    guard status == REDIS_OK else { throw RedisError(kind: .connection, message: RedisConnection.contextError(box.value.context)) }
                }
                var replies = RedisReplies(context: box.value.context, arena: box.value.arena, remaining: batch.count)
                let result: T
                do {
                    result = try body(&replies)
                } catch let error as RedisError where error.kind == .connection {
                    throw error
                } catch {
                    try replies.finish()
                    throw error
                }
                try replies.finish()
                return result
            } catch let error as RedisError where error.kind == .connection {
                flag.value = true
                if token.isCancelled { throw CancellationError() }
                throw error
            }
        }
    }

    /// Bytes the reply arena holds now (it shrinks back after a big reply).
    func replyArenaBytes() async throws -> Int {
        let box = UnsafeTransfer((context: context, arena: arena))
        return try await queue.run { Int(syncd_arena_capacity(box.value.arena)) }
    }

    static func contextError(_ context: UnsafeMutablePointer<redisContext>) -> String {
        let message = withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        switch context.pointee.err {
        case REDIS_ERR_EOF: return "the server closed the connection" + (message.isEmpty ? "" : " (\(message))")
        case REDIS_ERR_IO where message.contains("Resource temporarily unavailable"):
            return "no reply within the command timeout"
        default: return message.isEmpty ? "connection error \(context.pointee.err)" : message
        }
    }
}

private final class BrokenFlag: @unchecked Sendable {
    // Written and read only on the connection's serial queue, plus reads for health checks.
    private let lock = NSLock()
    private var stored = false
    var value: Bool {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

private func timeval(_ duration: Duration) -> Glibc.timeval {
    let (seconds, attoseconds) = duration.components
    return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
}
