import CHiredis
import CHiredisArena
import Foundation
import SyncCore

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
