import Foundation
import SyncCore

/// A topic partition, as both clusters number it (mirroring keeps the partition).
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }

    // Names are bytes: Swift's String equality would fold two spellings of one name into one.
    public static func == (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        lhs.partition == rhs.partition && lhs.topic.sameBytes(as: rhs.topic)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(partition)
        var topic = topic
        topic.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
