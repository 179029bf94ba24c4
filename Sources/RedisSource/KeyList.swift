import RedisClient
import SyncCore

/// The keys of one batch in one buffer: a SCAN batch of 1000 keys costs two allocations instead of
/// a thousand, and the check passes keys on to pipelines without copying them one by one.
struct KeyList: Sendable {
    private(set) var bytes: [UInt8] = []
    /// Where each key ends in `bytes`; key i starts where key i-1 ends.
    private var ends: [Int] = []

    init() {}

    init(reservingCapacity keys: Int, bytes: Int) {
        self.bytes.reserveCapacity(bytes)
        ends.reserveCapacity(keys)
    }

    init(_ keys: [[UInt8]]) {
        for key in keys { append(key) }
    }

    var count: Int { ends.count }
    var isEmpty: Bool { ends.isEmpty }
    var indices: Range<Int> { ends.indices }

    private func range(_ index: Int) -> Range<Int> {
        (index == 0 ? 0 : ends[index - 1])..<ends[index]
    }

    /// A copy of one key, for the rare paths that keep it (a difference, a big key).
    subscript(index: Int) -> [UInt8] { Array(bytes[range(index)]) }

    var arrays: [[UInt8]] { indices.map { self[$0] } }

    /// Each key in turn, as bytes valid only during the call.
    func forEach(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { all in
            for index in indices { try body(UnsafeRawBufferPointer(rebasing: all[range(index)])) }
        }
    }

    mutating func append(_ key: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: key)
        ends.append(bytes.count)
    }

    mutating func append(_ key: [UInt8]) {
        key.withUnsafeBytes { append($0) }
    }

    mutating func append(_ index: Int, of other: KeyList) {
        bytes.append(contentsOf: other.bytes[other.range(index)])
        ends.append(bytes.count)
    }
}

extension RESPBatch {
    /// One-key commands for each key of the list, in turn (`PTTL k1`, `DUMP k1`, `PTTL k2`, …).
    mutating func append(_ templates: KeyedTemplate..., eachOf keys: KeyList) {
        // The templates' bytes laid out once, so the loop copies bytes and touches no reference counts.
        var frames: [UInt8] = []
        var bounds: [(head: Range<Int>, tail: Range<Int>)] = []
        for template in templates {
            let head = frames.count..<(frames.count + template.head.count)
            frames += template.head
            let tail = frames.count..<(frames.count + template.tail.count)
            frames += template.tail
            bounds.append((head, tail))
        }
        count += keys.count * templates.count
        frames.withUnsafeBytes { frames in
            keys.forEach { key in
                for (head, tail) in bounds {
                    appendRaw(UnsafeRawBufferPointer(rebasing: frames[head]))
                    appendArgument(key)
                    appendRaw(UnsafeRawBufferPointer(rebasing: frames[tail]))
                }
            }
        }
    }

    /// One command naming every key of the list (`EXISTS k1 … kn`).
    mutating func append(_ name: String, keys: KeyList) {
        beginCommand(arguments: 1 + keys.count)
        appendArgument(Array(name.utf8))
        keys.forEach { appendArgument($0) }
    }
}
