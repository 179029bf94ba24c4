import Crypto
import Foundation
import RedisClient
import SyncCore

/// A stream's consumer groups as a consumer would resume from them: per group its name, the
/// last-delivered id, the entries read, the pending entries (ids and owning consumers) and the
/// consumers. Idle times and delivery counters are left out: they differ on any copy. Compared as
/// a digest of that canonical form, names and ids as bytes.
public struct StreamGroups: Sendable, Hashable {
    public var count: Int
    public var pending: Int
    public var digest: String

    /// At most this many pending entries per group are read.
    static let pendingLimit = 10_000

    static func read(_ connection: RedisConnection, _ key: [UInt8]) async throws -> StreamGroups {
        let groups = try await connection.pipeline([RedisCommand([Array("XINFO".utf8), Array("GROUPS".utf8), key])]) { replies in
            let reply = try replies.next()
            if let message = reply.errorMessage { throw RedisError(kind: .server, message: "XINFO GROUPS: \(message)") }
            return (0..<reply.count).map { index in fields(reply[index]) }
        }
        var hasher = SHA256()
        func add(_ bytes: [UInt8]) {
            var length = UInt64(bytes.count).littleEndian
            withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
            hasher.update(data: bytes)
        }
        var pendingTotal = 0
        for group in groups.sorted(by: { ($0["name"] ?? []).lexicographicallyPrecedes($1["name"] ?? []) }) {
            let name = group["name"] ?? []
            for field in ["name", "last-delivered-id", "entries-read"] { add(Array(field.utf8)); add(group[ByteKey(field)] ?? Array("nil".utf8)) }
            let (pending, consumers) = try await connection.pipeline([
                RedisCommand([Array("XPENDING".utf8), key, name, Array("-".utf8), Array("+".utf8), Array(String(pendingLimit).utf8)]),
                RedisCommand([Array("XINFO".utf8), Array("CONSUMERS".utf8), key, name]),
            ]) { replies -> ([[UInt8]], [[UInt8]]) in
                let pendingReply = try replies.next()
                if let message = pendingReply.errorMessage { throw RedisError(kind: .server, message: "XPENDING: \(message)") }
                let entries = (0..<pendingReply.count).map { index -> [UInt8] in
                    let entry = pendingReply[index]
                    return entry.count >= 2 ? Array(entry[0].bytes) + [0] + Array(entry[1].bytes) : []
                }
                let consumersReply = try replies.next()
                if let message = consumersReply.errorMessage { throw RedisError(kind: .server, message: "XINFO CONSUMERS: \(message)") }
                let names = (0..<consumersReply.count).compactMap { fields(consumersReply[$0])["name"] }
                return (entries, names)
            }
            pendingTotal += pending.count
            add(Array("pending".utf8))
            for entry in pending { add(entry) }  // XPENDING answers in id order
            add(Array("consumers".utf8))
            for consumer in consumers.sorted(by: { $0.lexicographicallyPrecedes($1) }) { add(consumer) }
        }
        let digest = hasher.finalize().prefix(8).map { String(format: "%02x", $0) }.joined()
        return StreamGroups(count: groups.count, pending: pendingTotal, digest: digest)
    }

    /// A flat [name, value, name, value, …] reply as a dictionary of byte values, names as bytes.
    static func fields(_ reply: RedisReplyRef) -> [ByteKey: [UInt8]] {
        var result: [ByteKey: [UInt8]] = [:]
        var index = 0
        while index + 1 < reply.count {
            let name = ByteKey(Array(reply[index].bytes))
            let value = reply[index + 1]
            result[name] = value.kind == .integer ? Array(String(value.integer).utf8) : value.kind == .null ? Array("nil".utf8) : Array(value.bytes)
            index += 2
        }
        return result
    }
}
