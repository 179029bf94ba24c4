import Foundation
import KafkaClient

/// How source topics are named on the DR cluster: the same name, or MirrorMaker 2's
/// DefaultReplicationPolicy `<sourceAlias><separator><topic>`.
public enum TopicMapping: Sendable, Equatable {
    case identity
    case mirrorMaker(sourceAlias: String, separator: String = ".")

    public func drTopic(for sourceTopic: String) -> String {
        switch self {
        case .identity: sourceTopic
        case let .mirrorMaker(alias, separator): alias + separator + sourceTopic
        }
    }

    /// The source topic a DR topic mirrors, or nil when the name does not follow the policy.
    public func sourceTopic(forDR drTopic: String) -> String? {
        switch self {
        case .identity:
            return drTopic
        case let .mirrorMaker(alias, separator):
            let prefix = alias + separator
            guard drTopic.hasPrefix(prefix), drTopic.count > prefix.count else { return nil }
            return String(drTopic.dropFirst(prefix.count))
        }
    }

    /// MirrorMaker 2's and Kafka Connect's own topics, which are never mirrored data.
    public static func isInternal(_ topic: String) -> Bool {
        topic.hasPrefix("__") || topic == "heartbeats" || topic.hasSuffix(".heartbeats")
            || (topic.hasPrefix("mm2-offset-syncs.") && topic.hasSuffix(".internal"))
            || topic.hasSuffix(".checkpoints.internal")
            || ["mm2-configs", "mm2-offsets", "mm2-status"].contains { topic.hasPrefix($0) && topic.hasSuffix(".internal") }
    }

    /// The topic where MirrorMaker 2 records its offset syncs for flows from `targetAlias`'s view.
    public static func offsetSyncsTopic(targetAlias: String) -> String {
        "mm2-offset-syncs.\(targetAlias).internal"
    }
}

/// One MirrorMaker 2 offset-sync record: upstream offset `upstreamOffset` of `topic`/`partition`
/// was written downstream at `downstreamOffset`.
public struct OffsetSync: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var upstreamOffset: Int64
    public var downstreamOffset: Int64

    public init(topic: String, partition: Int32, upstreamOffset: Int64, downstreamOffset: Int64) {
        self.topic = topic
        self.partition = partition
        self.upstreamOffset = upstreamOffset
        self.downstreamOffset = downstreamOffset
    }

    public struct DecodingError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The record key and value in the same Struct encoding MirrorMaker 2 writes (the built-in
    /// mirror records its mapping this way, so one reader serves both).
    public var encodedKey: [UInt8] {
        let name = Array(topic.utf8)
        return bigEndian(UInt64(name.count), 2) + name + bigEndian(UInt64(UInt32(bitPattern: partition)), 4)
    }

    public var encodedValue: [UInt8] {
        bigEndian(UInt64(bitPattern: upstreamOffset), 8) + bigEndian(UInt64(bitPattern: downstreamOffset), 8)
    }

    /// This sync as a record of an offset-syncs topic (one partition, as MirrorMaker 2 keeps it).
    func record(in topic: String) -> ProducedRecord {
        ProducedRecord(topic: topic, partition: 0, key: encodedKey, value: encodedValue)
    }

    private func bigEndian(_ value: UInt64, _ size: Int) -> [UInt8] {
        (0..<size).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }

    /// Decodes a record of `mm2-offset-syncs.<alias>.internal`. Both parts use Kafka's Struct
    /// encoding (org.apache.kafka.common.protocol.types): the key is {topic: STRING, partition: INT32},
    /// the value {upstreamOffset: INT64, offset: INT64}; STRING is an INT16 length then UTF-8 bytes,
    /// integers are big-endian. Trailing bytes are an error: a different schema must not be misread.
    public static func decode(key: [UInt8], value: [UInt8]) throws -> OffsetSync {
        var keyReader = StructReader(bytes: key, part: "key")
        let topic = try keyReader.string()
        let partition = try keyReader.int32()
        try keyReader.end()
        var valueReader = StructReader(bytes: value, part: "value")
        let upstream = try valueReader.int64()
        let downstream = try valueReader.int64()
        try valueReader.end()
        return OffsetSync(topic: topic, partition: partition, upstreamOffset: upstream, downstreamOffset: downstream)
    }
}

/// Reads Kafka Struct fields in order from a byte array.
struct StructReader {
    let bytes: [UInt8]
    let part: String
    var offset = 0

    init(bytes: [UInt8], part: String) {
        self.bytes = bytes
        self.part = part
    }

    mutating func take(_ count: Int, _ what: String) throws -> ArraySlice<UInt8> {
        guard count >= 0, offset + count <= bytes.count else {
            throw OffsetSync.DecodingError(description: "offset-sync \(part): \(bytes.count) bytes end before its \(what)")
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func integer(_ size: Int, _ what: String) throws -> UInt64 {
        try take(size, what).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    mutating func int32() throws -> Int32 { Int32(truncatingIfNeeded: try integer(4, "INT32")) }

    mutating func int64() throws -> Int64 { Int64(bitPattern: try integer(8, "INT64")) }

    mutating func string() throws -> String {
        let length = Int(Int16(truncatingIfNeeded: try integer(2, "STRING length")))
        guard length >= 0 else {
            throw OffsetSync.DecodingError(description: "offset-sync \(part): a STRING cannot have length \(length)")
        }
        guard let text = String(validating: try take(length, "STRING bytes"), as: UTF8.self) else {
            throw OffsetSync.DecodingError(description: "offset-sync \(part): the topic name is not UTF-8")
        }
        return text
    }

    func end() throws {
        guard offset == bytes.count else {
            throw OffsetSync.DecodingError(description: "offset-sync \(part): \(bytes.count - offset) unexpected trailing bytes (not the MirrorMaker 2 schema)")
        }
    }
}
