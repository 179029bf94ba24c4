import Foundation
import KafkaClient

/// 64-bit FNV-1a over a record's fields, each length-prefixed so that null, empty and shifted
/// fields differ. Each byte step is a bijection of the state, so two records of the same field
/// lengths that differ in one byte always get different digests.
public struct RecordHasher {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01b3

    public init() {}

    public mutating func add(byte: UInt8) {
        state = (state ^ UInt64(byte)) &* Self.prime
    }

    public mutating func add(_ value: UInt64) {
        var remaining = value
        for _ in 0..<8 {
            add(byte: UInt8(truncatingIfNeeded: remaining))
            remaining >>= 8
        }
    }

    /// A nullable field: a marker, then the length, then the bytes.
    public mutating func add(field: UnsafeRawBufferPointer?) {
        guard let field else {
            add(byte: 0)
            return
        }
        add(byte: 1)
        add(UInt64(field.count))
        for byte in field { add(byte: byte) }
    }

    public var digest: UInt64 { state }
}

extension RecordView {
    /// What the check compares: timestamp, key, value and headers, in their order.
    var digest: UInt64 {
        var hasher = RecordHasher()
        hasher.add(UInt64(bitPattern: timestamp))
        hasher.add(field: key)
        hasher.add(field: value)
        var headerCount: UInt64 = 0
        forEachHeader { name, value in
            hasher.add(field: UnsafeRawBufferPointer(start: name, count: strlen(name)))
            hasher.add(field: value)
            headerCount += 1
        }
        hasher.add(headerCount)
        return hasher.digest
    }
}

/// Finds the positions where two equally long digest sequences differ by bisecting on range
/// hashes: an equal range is dismissed with one comparison, an unequal one is split until single
/// records remain. (Both sides' digests are already in memory, so this costs no re-reads.)
public enum DigestBisection {
    public static func rangeHash(_ digests: ArraySlice<UInt64>) -> UInt64 {
        var hasher = RecordHasher()
        for digest in digests { hasher.add(digest) }
        hasher.add(UInt64(digests.count))
        return hasher.digest
    }

    /// Indices (into both arrays) of the differing records, ascending, at most `limit` of them.
    public static func differingIndices(_ lhs: [UInt64], _ rhs: [UInt64], limit: Int = .max) -> [Int] {
        precondition(lhs.count == rhs.count, "bisection compares equally long ranges")
        var found: [Int] = []
        func visit(_ range: Range<Int>) {
            guard found.count < limit, !range.isEmpty else { return }
            if range.count == 1 {
                if lhs[range.lowerBound] != rhs[range.lowerBound] { found.append(range.lowerBound) }
                return
            }
            guard rangeHash(lhs[range]) != rangeHash(rhs[range]) else { return }
            let middle = range.lowerBound + range.count / 2
            visit(range.lowerBound..<middle)
            visit(middle..<range.upperBound)
        }
        visit(0..<lhs.count)
        return found
    }
}
