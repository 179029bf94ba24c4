import Crypto
import Foundation
import RedisClient

/// The Redis data types syncd compares, by the name `TYPE` and `SCAN ... TYPE` use.
public enum RedisType: String, Sendable, CaseIterable {
    case string, list, set, zset, hash, stream
}

/// A 128-bit digest of one key's logical value: equal values give equal digests whatever the
/// server's internal encoding (listpack or hashtable, intset or not), so it is not DUMP bytes.
/// Unordered types (hash, set, zset) add up per-element hashes, so the order HSCAN/SSCAN/ZSCAN
/// return elements in (which differs between servers) does not matter, and paging keeps memory flat.
public struct ValueDigest: Sendable, Hashable, CustomStringConvertible {
    public var type: RedisType
    public var high: UInt64
    public var low: UInt64
    public var elements: Int64
    /// A stream's consumer groups (names, last-delivered ids, entries read, pending entries and
    /// consumers) in canonical form; nil for other types or when not read.
    public var groups: StreamGroups? = nil

    public var description: String { String(format: "%@:%016llx%016llx/%lld", type.rawValue, high, low, elements) }

    /// The same entries (or elements), whatever the consumer groups.
    func sameData(as other: ValueDigest) -> Bool {
        type == other.type && high == other.high && low == other.low && elements == other.elements
    }
}

/// Builds a `ValueDigest` from a value read in pieces.
public struct DigestBuilder: Sendable {
    public let type: RedisType
    private var ordered: SHA256?
    private var sumHigh: UInt64 = 0
    private var sumLow: UInt64 = 0
    public private(set) var elements: Int64 = 0

    public init(type: RedisType) {
        self.type = type
        switch type {
        case .string, .list, .stream: ordered = SHA256()
        case .set, .zset, .hash: ordered = nil
        }
    }

    /// String bytes (possibly in several windows; the concatenation is what counts).
    public mutating func addStringBytes(_ bytes: UnsafeRawBufferPointer) {
        ordered?.update(bufferPointer: bytes)
        elements += Int64(bytes.count)
    }

    /// One list element, or one stream entry field, in order.
    public mutating func addOrdered(_ parts: UnsafeRawBufferPointer...) {
        for part in parts { Self.frame(&ordered!, part) }
        elements += 1
    }

    /// Marks the start of a stream entry with `parts` fields, so entries cannot run into each other.
    public mutating func addStreamEntry(id: UnsafeRawBufferPointer, fieldCount: Int) {
        var count = UInt64(fieldCount).littleEndian
        withUnsafeBytes(of: &count) { Self.frame(&ordered!, $0) }
        Self.frame(&ordered!, id)
        elements += 1
    }

    public mutating func addStreamField(_ bytes: UnsafeRawBufferPointer) {
        Self.frame(&ordered!, bytes)
    }

    /// One set member, or one hash field with its value, or one sorted-set member with its score.
    public mutating func addUnordered(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer? = nil) {
        var hasher = SHA256()
        Self.frame(&hasher, first)
        if let second { Self.frame(&hasher, second) }
        let digest = hasher.finalize()
        digest.withUnsafeBytes { raw in
            sumHigh &+= raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
            sumLow &+= raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        }
        elements += 1
    }

    /// A sorted-set member with its score; the score text is parsed, so "1" and "1.0" agree.
    public mutating func addScored(member: UnsafeRawBufferPointer, score: UnsafeRawBufferPointer) {
        let value = Double(String(decoding: score, as: UTF8.self)) ?? .nan
        var bits = (value == 0 ? 0.0 : value).bitPattern.littleEndian
        withUnsafeBytes(of: &bits) { addUnordered(member, $0) }
    }

    public func finish() -> ValueDigest {
        if var ordered {
            var count = UInt64(bitPattern: elements).littleEndian
            withUnsafeBytes(of: &count) { ordered.update(bufferPointer: $0) }
            let digest = ordered.finalize()
            return digest.withUnsafeBytes { raw in
                ValueDigest(type: type, high: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                            low: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self), elements: elements)
            }
        }
        return ValueDigest(type: type, high: sumHigh, low: sumLow, elements: elements)
    }

    /// Length-prefixed, so ("ab","c") and ("a","bc") never hash alike.
    private static func frame(_ hasher: inout SHA256, _ bytes: UnsafeRawBufferPointer) {
        var length = UInt64(bytes.count).littleEndian
        withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
        hasher.update(bufferPointer: bytes)
    }
}

extension DigestBuilder {
    /// Conveniences for tests and small values held in Swift arrays.
    public mutating func addStringBytes(_ bytes: [UInt8]) { bytes.withUnsafeBytes { addStringBytes($0) } }
    public mutating func addOrdered(_ bytes: [UInt8]) { bytes.withUnsafeBytes { addOrdered($0) } }
    public mutating func addUnordered(_ first: [UInt8], _ second: [UInt8]? = nil) {
        first.withUnsafeBytes { a in
            if let second {
                second.withUnsafeBytes { b in addUnordered(a, b) }
            } else {
                addUnordered(a)
            }
        }
    }
    public mutating func addScored(member: [UInt8], score: String) {
        member.withUnsafeBytes { m in Array(score.utf8).withUnsafeBytes { s in addScored(member: m, score: s) } }
    }
}
