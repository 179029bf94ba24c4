import Testing
@testable import KafkaSource

/// Builds records the way Kafka's Struct encoding lays them out, independently of the decoder.
enum StructBytes {
    static func int16(_ value: Int16) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
    static func int32(_ value: Int32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
    static func int64(_ value: Int64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
    static func string(_ text: String) -> [UInt8] { int16(Int16(text.utf8.count)) + Array(text.utf8) }
}

@Suite struct OffsetSyncTests {
    @Test func decodesAnEncodedOffsetSyncRecord() throws {
        let key = StructBytes.string("orders") + StructBytes.int32(3)
        let value = StructBytes.int64(1_234_567_890_123) + StructBytes.int64(42)
        #expect(key == [0, 6] + Array("orders".utf8) + [0, 0, 0, 3])
        let sync = try OffsetSync.decode(key: key, value: value)
        #expect(sync == OffsetSync(topic: "orders", partition: 3, upstreamOffset: 1_234_567_890_123, downstreamOffset: 42))
    }

    @Test func truncatedOrLongerRecordsAreErrorsNotMisreadings() {
        let key = StructBytes.string("orders") + StructBytes.int32(3)
        let value = StructBytes.int64(7) + StructBytes.int64(8)
        #expect(throws: OffsetSync.DecodingError.self) { try OffsetSync.decode(key: Array(key.dropLast()), value: value) }
        #expect(throws: OffsetSync.DecodingError.self) { try OffsetSync.decode(key: key, value: Array(value.prefix(12))) }
        #expect(throws: OffsetSync.DecodingError.self) { try OffsetSync.decode(key: key, value: value + [0]) }
        #expect(throws: OffsetSync.DecodingError.self) { try OffsetSync.decode(key: [0, 9, 65], value: value) }
        #expect(throws: OffsetSync.DecodingError.self) { try OffsetSync.decode(key: StructBytes.int16(-1) + StructBytes.int32(0), value: value) }
    }
}

@Suite struct TopicMappingTests {
    @Test func mirrorMakerNamesCarryTheSourceAlias() {
        let mapping = TopicMapping.mirrorMaker(sourceAlias: "primary")
        #expect(mapping.drTopic(for: "orders") == "primary.orders")
        #expect(mapping.sourceTopic(forDR: "primary.orders") == "orders")
        #expect(mapping.sourceTopic(forDR: "primary.eu.orders") == "eu.orders")
        #expect(mapping.sourceTopic(forDR: "other.orders") == nil)
        #expect(mapping.sourceTopic(forDR: "primary.") == nil)
        let custom = TopicMapping.mirrorMaker(sourceAlias: "dc1", separator: "_")
        #expect(custom.drTopic(for: "orders") == "dc1_orders")
        #expect(custom.sourceTopic(forDR: "dc1_orders") == "orders")
    }

    @Test func identityKeepsNames() {
        #expect(TopicMapping.identity.drTopic(for: "orders") == "orders")
        #expect(TopicMapping.identity.sourceTopic(forDR: "orders") == "orders")
    }

    @Test func internalTopicsAreRecognised() {
        for topic in ["__consumer_offsets", "heartbeats", "primary.heartbeats", "mm2-offset-syncs.dr.internal",
                      "primary.checkpoints.internal", "mm2-configs.primary.internal"] {
            #expect(TopicMapping.isInternal(topic), "\(topic)")
        }
        #expect(!TopicMapping.isInternal("orders"))
        #expect(TopicMapping.offsetSyncsTopic(targetAlias: "dr") == "mm2-offset-syncs.dr.internal")
    }
}
