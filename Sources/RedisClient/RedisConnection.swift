import CHiredis
import CHiredisArena
import Foundation
import SyncCore

public struct RedisError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// The connection is unusable (refused, reset, timed out); it must be reopened.
        case connection
        /// The server answered with an error reply (WRONGTYPE, NOAUTH, READONLY, ...).
        case server
        /// The reply did not have the shape the command promises.
        case protocolViolation
    }
    public var kind: Kind
    public var message: String

    package init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// How to reach one Redis server.
public struct RedisConnectionParameters: Sendable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: Secret?
    public var database: Int
    public var connectTimeout: Duration
    /// Bounds every reply wait, so a hung server becomes an error instead of a stuck poll loop.
    public var commandTimeout: Duration

    public init(endpoint: EndpointConfig, database: Int = 0, commandTimeout: Duration = .seconds(15)) {
        host = endpoint.host
        port = endpoint.port
        username = endpoint.user
        password = endpoint.password
        self.database = database
        connectTimeout = .seconds(endpoint.connectTimeoutSeconds)
        self.commandTimeout = commandTimeout
    }

    public var displayName: String { "\(host):\(port)/\(database)" }
}

/// One command: its arguments as raw bytes (Redis keys and values are binary-safe).
public struct RedisCommand: Sendable {
    public var arguments: [[UInt8]]

    public init(_ arguments: [[UInt8]]) { self.arguments = arguments }

    public init(_ words: String...) { arguments = words.map { Array($0.utf8) } }

    public init(_ words: [String]) {
        arguments = words.map { Array($0.utf8) }
    }
}

/// Many commands written straight into one RESP buffer: a pipeline of thousands of commands costs
/// one hiredis call and no per-argument allocations.
public struct RESPBatch: Sendable {
    public private(set) var bytes: [UInt8] = []
    public package(set) var count = 0

    public init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func append(contentsOf arguments: [[UInt8]]) {
        header(UInt8(ascii: "*"), arguments.count)
        for argument in arguments { bulk(argument) }
        count += 1
    }

    public mutating func append(_ command: RedisCommand) {
        append(contentsOf: command.arguments)
    }

    public mutating func append(_ arguments: [[UInt8]]) {
        append(contentsOf: arguments)
    }

    /// A command with one key argument, pre-encoded around the key: `head` is the array header, the
    /// command name and the arguments before the key, `tail` the arguments after it. Appending it allocates nothing.
    public struct KeyedTemplate: Sendable {
        package let head: [UInt8]
        package let tail: [UInt8]

        public init(_ name: String, before leading: [String] = [], after trailing: [String] = []) {
            var head = RESPBatch()
            head.header(UInt8(ascii: "*"), 2 + leading.count + trailing.count)
            head.bulk(Array(name.utf8))
            for argument in leading { head.bulk(Array(argument.utf8)) }
            var tail = RESPBatch()
            for argument in trailing { tail.bulk(Array(argument.utf8)) }
            self.head = head.bytes
            self.tail = tail.bytes
        }
    }

    public mutating func append(_ template: KeyedTemplate, key: [UInt8]) {
        key.withUnsafeBytes { append(template, key: $0) }
    }

    public mutating func append(_ template: KeyedTemplate, key: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: template.head)
        bulk(key)
        bytes.append(contentsOf: template.tail)
        count += 1
    }

    /// A command written argument by argument: the header, then exactly `arguments` arguments.
    package mutating func beginCommand(arguments: Int) {
        header(UInt8(ascii: "*"), arguments)
        count += 1
    }

    package mutating func appendArgument(_ argument: [UInt8]) { bulk(argument) }

    package mutating func appendArgument(_ argument: UnsafeRawBufferPointer) { bulk(argument) }

    /// Bytes of commands counted by the caller (`append(_:eachOf:)` counts its commands up front).
    package mutating func appendRaw(_ raw: UnsafeRawBufferPointer) { bytes.append(contentsOf: raw) }

    private mutating func bulk(_ argument: [UInt8]) {
        argument.withUnsafeBytes { bulk($0) }
    }

    private mutating func bulk(_ argument: UnsafeRawBufferPointer) {
        header(UInt8(ascii: "$"), argument.count)
        bytes.append(contentsOf: argument)
        bytes.append(13)
        bytes.append(10)
    }

    private mutating func header(_ marker: UInt8, _ value: Int) {
        bytes.append(marker)
        var divisor = 1
        while divisor * 10 <= value { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
        bytes.append(13)
        bytes.append(10)
    }
}

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

/// Reads the replies of one pipeline in order. Replies live in the connection's arena, which is
/// emptied when the next reply is read, so a `RedisReplyRef` must be fully used (copied or
/// digested) before calling `next()` again.
public struct RedisReplies: ~Copyable {
    fileprivate let context: UnsafeMutablePointer<redisContext>
    fileprivate let arena: OpaquePointer
    fileprivate var remaining: Int

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
    fileprivate mutating func finish() throws {
        while remaining > 0 { _ = try read() }
        syncd_arena_reset(arena)
    }
}

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

    /// Connects, authenticates (AUTH [username] password) and selects the database.
    public static func connect(_ parameters: RedisConnectionParameters) async throws -> RedisConnection {
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
