import Foundation
import RedisClient
import SyncCore

/// One side's view of one key.
enum KeyReading: Sendable, Equatable {
    case absent
    /// `ttl` in ms, -1 when the key does not expire.
    case value(ValueDigest, ttl: Int64)
    /// The key could not be read (changed type in flight, module type, server error).
    case unreadable(String)
}

/// A key's serialized value (DUMP) and TTL: the fast path of the check. Equal serialized values
/// are equal values; different bytes may still be equal values in another encoding, so those keys
/// are compared again by canonical digest.
enum Snapshot: Sendable, Equatable {
    case absent
    case dumped(payload: [UInt8], ttl: Int64)
    case unreadable(String)

    /// Whether two serialized values are equal without their 10-byte trailers (RDB version +
    /// CRC64), so servers of different versions that serialize a value alike still match.
    /// Compared in place, without copying either side.
    static func sameBody(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> Bool {
        guard first.count == second.count else { return false }
        let length = first.count >= 10 ? first.count - 10 : first.count
        guard length > 0, let a = first.baseAddress, let b = second.baseAddress else { return true }
        return memcmp(a, b, length) == 0
    }

    static func sameBody(_ first: [UInt8], _ second: [UInt8]) -> Bool {
        first.withUnsafeBytes { a in second.withUnsafeBytes { b in sameBody(a, b) } }
    }
}

/// The primary's PTTL + DUMP replies for one batch of keys, the payloads in one buffer (no
/// allocation per key).
struct SnapshotBatch: Sendable {
    enum Entry: Sendable {
        case absent
        case dumped(Range<Int>, ttl: Int64)
        case unreadable(String)
    }

    private(set) var payloads: [UInt8] = []
    private(set) var entries: [Entry] = []

    init(reservingCapacity keys: Int) {
        payloads.reserveCapacity(keys * 64)
        entries.reserveCapacity(keys)
    }

    /// Reads the next key's PTTL and DUMP replies.
    mutating func read(_ replies: inout RedisReplies) throws {
        let entry = try KeyReader.snapshot(&replies, absent: Entry.absent, unreadable: { .unreadable($0) }) { bytes, ttl in
            let start = payloads.count
            payloads.append(contentsOf: bytes)
            return .dumped(start..<payloads.count, ttl: ttl)
        }
        entries.append(entry)
    }

    func withPayload<T>(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try payloads.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    /// One key's snapshot as a value of its own (copied out), for the keys that need a closer look.
    func snapshot(_ index: Int) -> Snapshot {
        switch entries[index] {
        case .absent: .absent
        case let .dumped(range, ttl): .dumped(payload: Array(payloads[range]), ttl: ttl)
        case let .unreadable(reason): .unreadable(reason)
        }
    }
}

extension Snapshot {
    /// The type a DUMP payload holds, from its first byte (the RDB object type); nil for module
    /// types and for types this version does not know.
    static func type(of payload: [UInt8]) -> RedisType? {
        switch payload.first {
        case 0?: .string
        case 1?, 10?, 14?, 18?: .list
        case 2?, 11?, 20?: .set
        case 3?, 5?, 12?, 17?: .zset
        case 4?, 9?, 13?, 16?: .hash
        case 15?, 19?, 21?: .stream
        default: nil
        }
    }
}

/// How keys are read: PTTL + DUMP for small keys in the pipelined pass, and TYPE + PTTL + the
/// whole value, paged (GETRANGE / LRANGE / HSCAN / SSCAN / ZSCAN / XRANGE windows) and digested
/// canonically, for big keys and for keys whose serialized bytes differ.
enum KeyReader {
    static let stringWindow = 256 * 1024
    static let elementWindow = 1000
    /// Keys estimated below this size (MEMORY USAGE … SAMPLES 1) are DUMPed whole in the pipelined
    /// pass; bigger ones are paged, so no batch makes a server buffer (or syncd hold) a big reply.
    static let dumpLimit: Int64 = 64 * 1024

    static let pttl = RESPBatch.KeyedTemplate("PTTL")
    static let dump = RESPBatch.KeyedTemplate("DUMP")
    static let memoryUsage = RESPBatch.KeyedTemplate("MEMORY", before: ["USAGE"], after: ["SAMPLES", "1"])

    /// PTTL + DUMP of each key, written into a pipeline batch.
    static func appendSnapshots(of keys: KeyList, to batch: inout RESPBatch) {
        batch.append(pttl, dump, eachOf: keys)
    }

    /// Reads the PTTL and DUMP replies of one key.
    static func snapshot(_ replies: inout RedisReplies) throws -> Snapshot {
        try snapshot(&replies, absent: .absent, unreadable: { .unreadable($0) }) { bytes, ttl in .dumped(payload: Array(bytes), ttl: ttl) }
    }

    /// The same, with `dumped` given the DUMP bytes (valid only during the call) and the TTL: a
    /// caller that only compares the bytes need not copy them.
    static func snapshot<T>(_ replies: inout RedisReplies, absent: T, unreadable: (String) -> T,
                            dumped: (UnsafeRawBufferPointer, Int64) -> T) throws -> T {
        let ttlReply = try replies.next()
        // Read before the next reply frees this one.
        let ttl = ttlReply.kind == .integer ? ttlReply.integer : nil
        let problem = ttlReply.errorMessage
        let dumpReply = try replies.next()
        if let problem { return unreadable(problem) }
        if let message = dumpReply.errorMessage { return unreadable(message) }
        guard let ttl, ttl != -2, dumpReply.kind == .string else { return absent }
        return dumped(dumpReply.bytes, ttl)
    }

    enum Position: Sendable {
        case start
        case byteOffset(Int)
        case index(Int)
        case cursor([UInt8])
        case afterStreamID([UInt8])
    }

    static func read(_ key: [UInt8], _ type: RedisType, from position: Position) -> RedisCommand {
        func command(_ name: String, _ rest: [[UInt8]]) -> RedisCommand {
            RedisCommand([Array(name.utf8), key] + rest)
        }
        func number(_ value: Int) -> [UInt8] { Array(String(value).utf8) }
        switch (type, position) {
        case let (.string, .byteOffset(offset)):
            return command("GETRANGE", [number(offset), number(offset + stringWindow - 1)])
        case (.string, _):
            return command("GETRANGE", [number(0), number(stringWindow - 1)])
        case let (.list, .index(start)):
            return command("LRANGE", [number(start), number(start + elementWindow - 1)])
        case (.list, _):
            return command("LRANGE", [number(0), number(elementWindow - 1)])
        case (.hash, _), (.set, _), (.zset, _):
            let name = type == .hash ? "HSCAN" : type == .set ? "SSCAN" : "ZSCAN"
            var cursor = Array("0".utf8)
            if case let .cursor(value) = position { cursor = value }
            return command(name, [cursor, Array("COUNT".utf8), number(elementWindow)])
        case let (.stream, .afterStreamID(id)):
            return command("XRANGE", [Array("(".utf8) + id, Array("+".utf8), Array("COUNT".utf8), number(elementWindow)])
        case (.stream, _):
            return command("XRANGE", [Array("-".utf8), Array("+".utf8), Array("COUNT".utf8), number(elementWindow)])
        }
    }

    /// Digests one window into `builder`; returns where the next window starts, nil when done.
    /// A WRONGTYPE reply throws `WrongType`.
    static func digest(_ reply: RedisReplyRef, _ type: RedisType, into builder: inout DigestBuilder,
                       at position: Position) throws -> Position? {
        try checkError(reply)
        switch type {
        case .string:
            guard reply.kind == .string else { throw shape("GETRANGE") }
            let bytes = reply.bytes
            builder.addStringBytes(bytes)
            guard bytes.count == stringWindow else { return nil }
            if case let .byteOffset(offset) = position { return .byteOffset(offset + stringWindow) }
            return .byteOffset(stringWindow)
        case .list:
            guard reply.kind == .array else { throw shape("LRANGE") }
            _ = try addElements(reply, .list, into: &builder)
            guard reply.count == elementWindow else { return nil }
            if case let .index(start) = position { return .index(start + elementWindow) }
            return .index(elementWindow)
        case .hash, .set, .zset:
            guard reply.kind == .array, reply.count == 2, reply[1].kind == .array else { throw shape("SCAN") }
            _ = try addElements(reply[1], type, into: &builder)
            let cursor = Array(reply[0].bytes)
            return cursor == Array("0".utf8) ? nil : .cursor(cursor)
        case .stream:
            guard reply.kind == .array else { throw shape("XRANGE") }
            let lastID = try addElements(reply, .stream, into: &builder)
            guard reply.count == elementWindow, let lastID else { return nil }
            return .afterStreamID(lastID)
        }
    }

    /// Adds an array of elements as the type's replies lay them out: list elements or set members
    /// one by one, hash fields and sorted-set members paired with their value or score, stream
    /// entries as [id, [field, value, …]]. Returns the last stream entry's ID.
    static func addElements(_ items: RedisReplyRef, _ type: RedisType, into builder: inout DigestBuilder) throws -> [UInt8]? {
        switch type {
        case .string:
            builder.addStringBytes(items.bytes)
        case .list:
            for index in 0..<items.count { builder.addOrdered(items[index].bytes) }
        case .set:
            for index in 0..<items.count { builder.addUnordered(items[index].bytes) }
        case .hash, .zset:
            var index = 0
            while index + 1 < items.count {
                if type == .hash {
                    builder.addUnordered(items[index].bytes, items[index + 1].bytes)
                } else {
                    builder.addScored(member: items[index].bytes, score: items[index + 1].bytes)
                }
                index += 2
            }
        case .stream:
            var lastID: [UInt8]?
            for index in 0..<items.count {
                let entry = items[index]
                guard entry.kind == .array, entry.count == 2 else { throw shape("XRANGE entry") }
                let fields = entry[1]
                builder.addStreamEntry(id: entry[0].bytes, fieldCount: fields.count)
                for field in 0..<fields.count { builder.addStreamField(fields[field].bytes) }
                lastID = Array(entry[0].bytes)
            }
            return lastID
        }
        return nil
    }

    private static func checkError(_ reply: RedisReplyRef) throws {
        guard let message = reply.errorMessage else { return }
        if message.hasPrefix("WRONGTYPE") { throw WrongType() }
        throw RedisError(kind: .server, message: message)
    }

    /// One command that returns a whole small value (its size was estimated below `dumpLimit`).
    static let wholeReads: [RedisType: RESPBatch.KeyedTemplate] = [
        .string: .init("GET"),
        .list: .init("LRANGE", after: ["0", "-1"]),
        .set: .init("SMEMBERS"),
        .zset: .init("ZRANGE", after: ["0", "-1", "WITHSCORES"]),
        .hash: .init("HGETALL"),
        .stream: .init("XRANGE", after: ["-", "+"]),
    ]

    /// The canonical digest of a whole-value reply (`wholeReads`); nil when the key is gone.
    static func digestWhole(_ reply: RedisReplyRef, _ type: RedisType) throws -> ValueDigest? {
        try checkError(reply)
        if reply.kind == .null { return nil }
        guard reply.kind == (type == .string ? .string : .array) else { throw shape("a whole-value read") }
        var builder = DigestBuilder(type: type)
        _ = try addElements(reply, type, into: &builder)
        return builder.finish()
    }

    struct WrongType: Error {}

    static func shape(_ command: String) -> RedisError {
        RedisError(kind: .protocolViolation, message: "unexpected reply shape for \(command)")
    }

    /// TYPE, PTTL and the whole value, paged; for re-checks and keys bigger than one window.
    static func readWhole(_ connection: RedisConnection, _ key: [UInt8]) async throws -> KeyReading {
        let (typeName, ttl) = try await connection.pipeline([RedisCommand([Array("TYPE".utf8), key]), RedisCommand([Array("PTTL".utf8), key])]) { replies in
            let typeReply = try replies.next()
            let type = String(decoding: typeReply.bytes, as: UTF8.self)
            let ttlReply = try replies.next()
            return (type, ttlReply.kind == .integer ? ttlReply.integer : -2)
        }
        if typeName == "none" || ttl == -2 { return .absent }
        guard let type = RedisType(rawValue: typeName) else {
            return .unreadable("type '\(typeName)' (a module type) cannot be compared")
        }
        var builder = DigestBuilder(type: type)
        var position = Position.start
        while true {
            let command = read(key, type, from: position)
            let current = builder
            let at = position
            let step: Result<(DigestBuilder, Position?), Error> = try await connection.pipeline([command]) { replies in
                var builder = current
                let reply = try replies.next()
                do {
                    let next = try digest(reply, type, into: &builder, at: at)
                    return .success((builder, next))
                } catch let error as RedisError where error.kind == .connection {
                    throw error
                } catch {
                    return .failure(error)
                }
            }
            switch step {
            case let .success((updated, next)):
                builder = updated
                guard let next else {
                    var digest = builder.finish()
                    if type == .stream { digest.groups = try await StreamGroups.read(connection, key) }
                    return .value(digest, ttl: ttl)
                }
                position = next
            case .failure(is WrongType):
                return .unreadable("its type changed while it was read")
            case let .failure(error):
                return .unreadable("\(error)")
            }
        }
    }
}

/// How a key differs, or nil when both sides agree.
struct KeyVerdict: Sendable, Equatable {
    var kind: DiffKind
    var detail: String
}

func compareReadings(_ primary: KeyReading, _ dr: KeyReading, ttlTolerance: Double) -> KeyVerdict? {
    switch (primary, dr) {
    case (.absent, .absent):
        return nil
    case (.absent, _):
        return KeyVerdict(kind: .extra, detail: "only on the DR side")
    case (_, .absent):
        return KeyVerdict(kind: .missing, detail: "not on the DR side")
    case let (.unreadable(reason), _):
        return KeyVerdict(kind: .changed, detail: "unreadable on the primary: \(reason)")
    case let (_, .unreadable(reason)):
        return KeyVerdict(kind: .changed, detail: "unreadable on the DR side: \(reason)")
    case let (.value(p, pTTL), .value(d, dTTL)):
        if p.type != d.type { return KeyVerdict(kind: .changed, detail: "type: \(p.type.rawValue) vs \(d.type.rawValue)") }
        if !p.sameData(as: d) { return KeyVerdict(kind: .changed, detail: "value") }
        if p.groups != d.groups {
            func show(_ groups: StreamGroups?) -> String { groups.map { "\($0.count) group(s), \($0.pending) pending" } ?? "not read" }
            return KeyVerdict(kind: .changed, detail: "stream consumer groups differ (primary: \(show(p.groups)); DR: \(show(d.groups)))")
        }
        if let ttl = ttlDifference(pTTL, dTTL, tolerance: ttlTolerance) { return KeyVerdict(kind: .changed, detail: ttl) }
        return nil
    }
}

/// TTLs in ms (-1 = none); nil when they agree within the tolerance.
func ttlDifference(_ primary: Int64, _ dr: Int64, tolerance: Double) -> String? {
    func show(_ ttl: Int64) -> String { ttl < 0 ? "none" : String(format: "%.1fs", Double(ttl) / 1000) }
    if (primary < 0) != (dr < 0) { return "ttl: \(show(primary)) on the primary, \(show(dr)) on the DR side" }
    if primary >= 0, abs(Double(primary - dr)) / 1000 > tolerance {
        return "ttl: \(show(primary)) on the primary, \(show(dr)) on the DR side"
    }
    return nil
}

/// A Redis key as JSON: text when it is UTF-8, base64 otherwise (keys are binary-safe).
func keyJSON(_ key: [UInt8]) -> JSONValue {
    if let text = String(validating: key, as: UTF8.self) { return .object(["key": .string(text)]) }
    return .object(["key_base64": .string(Data(key).base64EncodedString())])
}

func keyBytes(_ json: JSONValue) -> [UInt8]? {
    guard case let .object(object) = json else { return nil }
    if case let .string(text)? = object["key"] { return Array(text.utf8) }
    if case let .string(encoded)? = object["key_base64"], let data = Data(base64Encoded: encoded) { return Array(data) }
    return nil
}

/// How a key is shown in plans and messages: escaped as text output escapes it, so a plan prints
/// each key one way (its statements and its key list alike).
func printable(_ key: [UInt8]) -> String {
    DisplayText.cell(key)
}
