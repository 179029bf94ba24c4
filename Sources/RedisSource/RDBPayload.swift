import Foundation
import RedisClient

/// Canonical digests read straight from DUMP payloads, for the types whose serialized order
/// follows each server's random hash seed: hashtable-encoded sets and hashes. Their bytes differ
/// between two servers holding the same value, and reading them again whole (SMEMBERS, HGETALL)
/// would cost both servers a second command; parsing the payload already in hand costs neither.
/// Anything unexpected gives nil, and the caller reads the key whole as before.
enum RDBPayload {
    /// RDB object types (rdb.h) parsed here.
    static let setType: UInt8 = 2
    static let hashType: UInt8 = 4

    /// Opens a set or hash payload for `body`: its RDB type, element count and a reader over its
    /// elements. Nil unless `body` reads the elements exactly to their end.
    private static func elements<T>(of payload: [UInt8], _ body: (_ type: UInt8, _ count: Int, inout Reader) -> T?) -> T? {
        // The payload ends with a 2-byte RDB version and an 8-byte CRC64.
        guard payload.count > 11 else { return nil }
        return payload.withUnsafeBytes { raw -> T? in
            var reader = Reader(bytes: UnsafeRawBufferPointer(rebasing: raw[1..<(raw.count - 10)]))
            let type = raw[0]
            guard type == setType || type == hashType, let count = reader.length() else { return nil }
            guard let result = body(type, count, &reader), reader.atEnd else { return nil }
            return result
        }
    }

    static func digest(_ payload: [UInt8]) -> ValueDigest? {
        elements(of: payload) { type, count, reader in
            var builder = DigestBuilder(type: type == setType ? .set : .hash)
            for _ in 0..<count {
                guard let first = reader.string() else { return nil }
                if type == setType {
                    first.withUnsafeBytes { builder.addUnordered($0) }
                } else {
                    guard let second = reader.string() else { return nil }
                    first.withUnsafeBytes { a in second.withUnsafeBytes { b in builder.addUnordered(a, b) } }
                }
            }
            return builder.finish()
        }
    }

    /// The elements of a hashtable set or hash payload, sorted: two payloads hold the same value
    /// exactly when these are equal. Comparing them needs no hashing, and equal values in different
    /// hash orders are the common case where this path is taken. Nil for anything else.
    static func sortedElements(_ payload: [UInt8]) -> SortedElements? {
        elements(of: payload) { type, count, reader in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(payload.count + count * 8)
            var ranges: [Range<Int>] = []
            ranges.reserveCapacity(count)
            for _ in 0..<count {
                let start = bytes.count
                if type == hashType {
                    // The field's length first, so (field, value) pairs cannot run into each other.
                    bytes.append(contentsOf: repeatElement(0, count: 8))
                    guard reader.string(appendingTo: &bytes) else { return nil }
                    withUnsafeBytes(of: UInt64(bytes.count - start - 8).bigEndian) { length in
                        for offset in 0..<8 { bytes[start + offset] = length[offset] }
                    }
                }
                guard reader.string(appendingTo: &bytes) else { return nil }
                ranges.append(start..<bytes.count)
            }
            return SortedElements(type: type, bytes: bytes, ranges: ranges)
        }
    }

    struct SortedElements: Equatable {
        let type: UInt8
        private let bytes: [UInt8]
        private let ranges: [Range<Int>]

        init(type: UInt8, bytes: [UInt8], ranges: [Range<Int>]) {
            self.type = type
            self.bytes = bytes
            self.ranges = bytes.withUnsafeBytes { all in
                ranges.sorted { all[$0].lexicographicallyPrecedes(all[$1]) }
            }
        }

        static func == (first: SortedElements, second: SortedElements) -> Bool {
            guard first.type == second.type, first.ranges.count == second.ranges.count else { return false }
            return first.bytes.withUnsafeBytes { a in
                second.bytes.withUnsafeBytes { b in
                    zip(first.ranges, second.ranges).allSatisfy { a[$0].elementsEqual(b[$1]) }
                }
            }
        }
    }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func byte() -> UInt8? {
            guard position < bytes.count else { return nil }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func bigEndian(_ width: Int) -> UInt64? {
            guard position + width <= bytes.count else { return nil }
            var value: UInt64 = 0
            for offset in 0..<width { value = value << 8 | UInt64(bytes[position + offset]) }
            position += width
            return value
        }

        mutating func littleEndian(_ width: Int) -> UInt64? {
            guard position + width <= bytes.count else { return nil }
            var value: UInt64 = 0
            for offset in (0..<width).reversed() { value = value << 8 | UInt64(bytes[position + offset]) }
            position += width
            return value
        }

        /// An RDB length: nil for a special string encoding (see `string()`) or bad input.
        mutating func length() -> Int? {
            guard let (value, special) = lengthOrEncoding(), !special else { return nil }
            return value
        }

        /// (length, false) or (encoding, true) for the 0b11 prefix.
        mutating func lengthOrEncoding() -> (Int, Bool)? {
            guard let first = byte() else { return nil }
            switch first >> 6 {
            case 0: return (Int(first & 0x3f), false)
            case 1:
                guard let second = byte() else { return nil }
                return (Int(first & 0x3f) << 8 | Int(second), false)
            case 2:
                let width = first == 0x80 ? 4 : first == 0x81 ? 8 : 0
                guard width > 0, let value = bigEndian(width), value <= UInt64(Int.max) else { return nil }
                return (Int(value), false)
            default:
                return (Int(first & 0x3f), true)
            }
        }

        /// An RDB string: raw bytes, an integer (given back as its decimal text, as the commands
        /// that read the value do) or LZF-compressed bytes.
        mutating func string() -> [UInt8]? {
            var out: [UInt8] = []
            return string(appendingTo: &out) ? out : nil
        }

        /// The same, appended to `out` (no allocation for raw strings); false on bad input.
        mutating func string(appendingTo out: inout [UInt8]) -> Bool {
            guard let (value, special) = lengthOrEncoding() else { return false }
            if !special {
                guard value <= bytes.count - position else { return false }
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + value)]))
                position += value
                return true
            }
            switch value {
            case 0, 1, 2:
                let width = 1 << value
                guard let raw = littleEndian(width) else { return false }
                let shift = UInt64(64 - 8 * width)
                let number = Int64(bitPattern: raw << shift) >> Int64(shift)
                out.append(contentsOf: String(number).utf8)
                return true
            case 3:
                guard let compressed = length(), let expanded = length(), compressed <= bytes.count - position else { return false }
                defer { position += compressed }
                guard let plain = Self.lzf(UnsafeRawBufferPointer(rebasing: bytes[position..<(position + compressed)]), expanded: expanded) else {
                    return false
                }
                out.append(contentsOf: plain)
                return true
            default:
                return false
            }
        }

        /// LZF decompression (the liblzf format Redis writes).
        static func lzf(_ input: UnsafeRawBufferPointer, expanded: Int) -> [UInt8]? {
            var output: [UInt8] = []
            output.reserveCapacity(expanded)
            var index = 0
            while index < input.count {
                let control = Int(input[index])
                index += 1
                if control < 32 {
                    let run = control + 1
                    guard index + run <= input.count, output.count + run <= expanded else { return nil }
                    output.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[index..<(index + run)]))
                    index += run
                } else {
                    var run = control >> 5
                    if run == 7 {
                        guard index < input.count else { return nil }
                        run += Int(input[index])
                        index += 1
                    }
                    guard index < input.count else { return nil }
                    let back = ((control & 0x1f) << 8) + Int(input[index]) + 1
                    index += 1
                    run += 2
                    guard back <= output.count, output.count + run <= expanded else { return nil }
                    // Byte by byte: the source may overlap what is being written.
                    var from = output.count - back
                    for _ in 0..<run {
                        output.append(output[from])
                        from += 1
                    }
                }
            }
            return output.count == expanded ? output : nil
        }
    }
}
