import Foundation
import SyncCore

/// One record to produce. A nil key or value is Kafka's null, which differs from an empty one;
/// timestamp 0 lets the broker stamp it.
public struct ProducedRecord: Sendable {
    public var topic: String
    public var partition: Int32
    public var key: [UInt8]?
    public var value: [UInt8]?
    /// Written in name order.
    public var headers: [String: [UInt8]]
    public var timestamp: Int64

    public init(topic: String, partition: Int32, key: [UInt8]?, value: [UInt8]?, headers: [String: [UInt8]] = [:], timestamp: Int64 = 0) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }
}
