import CLibPQ
import Foundation
import SyncCore

/// One libpq connection. Owns its `PGconn` and frees it on deinit; every libpq call runs on the
/// connection's own serial queue, off the cooperative pool. Under a `CallDeadline` a statement is
/// sent asynchronously and the socket waited on with a timeout; on expiry the connection is
/// abandoned (libpq 15 has no bounded cancel: `PQcancel` blocks on a stopped server, so the
/// cancel is sent from a thread of its own and the close never waits for the server).
public final class PGConnection: @unchecked Sendable {
    // @unchecked: `handle` and `abandoned` are used only inside `queue` (serial) and in deinit,
    // when no one else holds us.
    private let handle: OpaquePointer
    private let queue: BlockingQueue
    private var abandoned = false
    public let parameters: PGConnectionParameters

    private init(handle: OpaquePointer, queue: BlockingQueue, parameters: PGConnectionParameters) {
        self.handle = handle
        self.queue = queue
        self.parameters = parameters
    }

    deinit {
        // Non-blocking mode: the terminate message is queued in the socket, never waited on.
        PQsetnonblocking(handle, 1)
        PQfinish(handle)
    }

    /// Connects within the endpoint's connect timeout, or the call's deadline when that is sooner.
    public static func connect(_ parameters: PGConnectionParameters) async throws -> PGConnection {
        let queue = BlockingQueue(label: "syncd.libpq.\(parameters.displayName)")
        var deadline = ContinuousClock.now + .seconds(parameters.connectTimeoutSeconds)
        if let call = CallDeadline.current, call < deadline { deadline = call }
        let box = try await queue.run { [deadline] () throws -> UnsafeTransfer<OpaquePointer> in
            let pairs = parameters.keywordValues
            let handle = withCStringArray(pairs.map(\.0)) { keywords in
                withCStringArray(pairs.map(\.1)) { values in
                    PQconnectStartParams(keywords, values, 0)
                }
            }
            guard let handle else {
                throw PostgresError(kind: .connection, message: "libpq could not allocate a connection")
            }
            do {
                try finishConnecting(handle, deadline: deadline)
            } catch let error as PostgresError {
                PQfinish(handle)
                throw PostgresError(kind: error.kind == .timeout ? .timeout : .connection,
                                    message: "cannot connect to \(parameters.displayName): \(error.message)")
            }
            return UnsafeTransfer(handle)
        }
        return PGConnection(handle: box.value, queue: queue, parameters: parameters)
    }

    /// Drives `PQconnectPoll` (libpq ignores connect_timeout there, so the deadline is ours).
    private static func finishConnecting(_ handle: OpaquePointer, deadline: ContinuousClock.Instant) throws {
        guard PQstatus(handle) != CONNECTION_BAD else {
            throw PostgresError(kind: .connection, message: errorMessage(handle))
        }
        var state = PGRES_POLLING_WRITING
        while true {
            switch state {
            case PGRES_POLLING_OK:
                return
            case PGRES_POLLING_READING:
                _ = try waitForSocket(handle, events: Int16(POLLIN), deadline: deadline, doing: "waiting for the server to answer the connection")
            case PGRES_POLLING_WRITING:
                _ = try waitForSocket(handle, events: Int16(POLLOUT), deadline: deadline, doing: "waiting to send the connection request")
            default:
                throw PostgresError(kind: .connection, message: errorMessage(handle))
            }
            state = PQconnectPoll(handle)
        }
    }

    /// True while the connection is usable; a failed or abandoned one must be dropped and reopened.
    public func isHealthy() async -> Bool {
        let box = UnsafeTransfer(handle)
        return (try? await queue.run { !self.abandoned && PQstatus(box.value) == CONNECTION_OK }) ?? false
    }

    /// Runs one statement with bind parameters (text format); NULL parameters are nil. The statement
    /// is sent asynchronously: under a `CallDeadline` (a poll) it answers by then or throws
    /// `.timeout`; when the calling task is cancelled (a cancelled or timed-out check) it throws
    /// `.cancelled` within 0.1 s. Both cancel the statement on the server and abandon the connection.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) async throws -> PGRows {
        let box = UnsafeTransfer(handle)
        let deadline = CallDeadline.current
        let cancelled = CancellationToken()
        return try await withTaskCancellationHandler {
            try await queue.run {
                guard !self.abandoned else {
                    throw PostgresError(kind: .connection, message: "the connection was abandoned after a call timed out or was cancelled")
                }
                guard !cancelled.isCancelled else { throw CancellationError() }
                do {
                    return try PGConnection.execute(box.value, sql, parameters, deadline: deadline, cancelled: cancelled)
                } catch let error as PostgresError where error.kind == .timeout || error.kind == .cancelled {
                    self.abandoned = true
                    PGCancelSender.send(for: box.value)
                    if error.kind == .cancelled { throw CancellationError() }
                    throw error
                }
            }
        } onCancel: {
            cancelled.cancel()
        }
    }

    private static func execute(_ handle: OpaquePointer, _ sql: String, _ parameters: [String?],
                                deadline: ContinuousClock.Instant?, cancelled: CancellationToken) throws -> PGRows {
        if PQisnonblocking(handle) == 0 { PQsetnonblocking(handle, 1) }
        let sent = withParameters(parameters) { values in
            PQsendQueryParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        guard sent == 1 else { throw PostgresError(kind: .connection, message: errorMessage(handle)) }
        // Send it all; reading while the send buffer is full keeps the server from stalling on us.
        while true {
            let flushed = PQflush(handle)
            if flushed == 0 { break }
            guard flushed > 0 else { throw PostgresError(kind: .connection, message: errorMessage(handle)) }
            let ready = try waitForSocket(handle, events: Int16(POLLIN | POLLOUT), deadline: deadline, cancelled: cancelled, doing: "sending a statement")
            if ready & Int16(POLLIN) != 0, PQconsumeInput(handle) == 0 {
                throw PostgresError(kind: .connection, message: errorMessage(handle))
            }
        }
        var results: [OpaquePointer] = []
        defer { results.forEach { PQclear($0) } }
        while true {
            while PQisBusy(handle) == 1 {
                _ = try waitForSocket(handle, events: Int16(POLLIN), deadline: deadline, cancelled: cancelled, doing: "waiting for a statement's answer")
                guard PQconsumeInput(handle) == 1 else {
                    throw PostgresError(kind: .connection, message: errorMessage(handle))
                }
            }
            guard let result = PQgetResult(handle) else { break }
            results.append(result)
        }
        guard let last = results.last else { throw PostgresError(kind: .connection, message: errorMessage(handle)) }
        for result in results where !isSuccess(result) { _ = try rows(of: result, handle) }
        return try rows(of: last, handle)
    }

    /// Waits until the socket is ready for `events`; throws `.timeout` at the deadline and
    /// `.cancelled` once the flag is set (looked at every 100 ms).
    private static func waitForSocket(_ handle: OpaquePointer, events: Int16, deadline: ContinuousClock.Instant?,
                                      cancelled: CancellationToken? = nil, doing: String) throws -> Int16 {
        let socket = PQsocket(handle)
        guard socket >= 0 else { throw PostgresError(kind: .connection, message: errorMessage(handle)) }
        while true {
            var wait: Int32 = cancelled == nil ? Int32.max : 100
            if let deadline {
                let left = CallDeadline.milliseconds(until: deadline)
                guard left > 0 else {
                    throw PostgresError(kind: .timeout, message: "no answer within the deadline while \(doing); the server is hung or unreachable")
                }
                wait = min(wait, left)
            }
            if cancelled?.isCancelled == true {
                throw PostgresError(kind: .cancelled, message: "cancelled while \(doing)")
            }
            var descriptor = pollfd(fd: socket, events: events, revents: 0)
            let ready = poll(&descriptor, 1, wait == Int32.max ? -1 : wait)
            if ready > 0 { return descriptor.revents }
            if ready < 0, errno != EINTR {
                throw PostgresError(kind: .connection, message: "poll() on the connection failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    private static func isSuccess(_ result: OpaquePointer) -> Bool {
        [PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY].contains(PQresultStatus(result))
    }

    /// Copies a result out as text, or throws the server's error with its SQLSTATE.
    private static func rows(of result: OpaquePointer, _ handle: OpaquePointer) throws -> PGRows {
        guard isSuccess(result) else {
            let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? "unknown error"
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let kind: PostgresError.Kind = PQstatus(handle) == CONNECTION_OK ? .query : .connection
            throw PostgresError(kind: kind, message: message.trimmingCharacters(in: .whitespacesAndNewlines), sqlState: state)
        }
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<Int32(rowCount) {
            rows.append((0..<Int32(columnCount)).map { column in
                PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
            })
        }
        return PGRows(columns: columns, rows: rows)
    }

    private static func withParameters<R>(_ parameters: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } }
        defer { copies.forEach { free($0) } }
        return copies.map { UnsafePointer($0) }.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    private static func errorMessage(_ handle: OpaquePointer) -> String {
        PQerrorMessage(handle).map { String(cString: $0) }?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown error"
    }
}

/// Sends the cancel request of an abandoned statement from a thread of its own: `PQcancel` waits
/// for the server to close the cancel connection, which a stopped server never does. At most a few
/// are outstanding at once; beyond that the statement is left to the server's statement_timeout.
enum PGCancelSender {
    static let limit = 4
    private static let lock = NSLock()
    nonisolated(unsafe) private static var outstanding = 0

    static func send(for handle: OpaquePointer) {
        guard let cancel = PQgetCancel(handle) else { return }
        lock.lock()
        guard outstanding < limit else {
            lock.unlock()
            PQfreeCancel(cancel)
            return
        }
        outstanding += 1
        lock.unlock()
        let box = UnsafeTransfer(cancel)
        Thread.detachNewThread {
            var message = [CChar](repeating: 0, count: 256)
            _ = PQcancel(box.value, &message, Int32(message.count))
            PQfreeCancel(box.value)
            lock.lock()
            outstanding -= 1
            lock.unlock()
        }
    }
}

private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeBufferPointer { buffer in
        // The array always holds its terminating nil, so it has storage.
        guard let base = buffer.baseAddress else { preconditionFailure("an empty C string array") }
        return body(base)
    }
}
