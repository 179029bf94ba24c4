import Foundation
import Testing
@testable import KafkaClient
@testable import KafkaSource
@testable import SyncCore
import TestSupport

/// Every suite that uses the shared mock clusters nests here, so they run one test at a time.
@Suite(.serialized) enum KafkaClusters {}

/// The two Kafka mock clusters of integration/kafka.sh (located by TestSupport's
/// IntegrationServers), as the Kafka tests use them.
enum TestKafka {
    static func endpoint(_ side: Side) throws -> EndpointConfig {
        let address = try IntegrationServers.Kafka.bootstrap(side)
        var endpoint = try IntegrationServers.Kafka.endpoint(side)
        endpoint.bootstrap = address
        return endpoint
    }

    static let pollInterval = 0.5

    static func source(_ name: String, mode: KafkaOptions.Mode, topics: [String], policy: KafkaOptions.Policy? = nil,
                       dr: EndpointConfig? = nil, lagBudget: Double = 60) throws -> SourceConfig {
        SourceConfig(name: name, kind: .kafka, primary: try endpoint(.primary), dr: try dr ?? endpoint(.dr), pollIntervalSeconds: pollInterval,
                     pollTimeoutSeconds: KafkaSource.descriptor.defaults.pollTimeoutSeconds,
                     policy: IntegrationServers.policy(lagBudget: lagBudget),
                     options: KafkaOptions(mode: mode, topics: topics, policy: policy, sourceAlias: "primary", sourceName: name, batchSize: 100))
    }

    /// A topic name no other test uses (the mock clusters live as long as the script's process).
    static func unique(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    static func createTopic(_ side: Side, _ topic: String, partitions: Int) async throws {
        try await IntegrationServers.Kafka.script(["create", side == .primary ? "primary" : "dr", topic, String(partitions)])
    }

    static func script(_ arguments: String...) async throws {
        try await IntegrationServers.Kafka.script(arguments)
    }

    struct TestRecord: Sendable, Equatable {
        var key: [UInt8]?
        var value: [UInt8]?
        var headers: [String: [UInt8]] = [:]
        var timestamp: Int64
    }

    static func record(_ key: String?, _ value: String?, headers: [String: String] = [:], timestamp: Int64? = nil) -> TestRecord {
        TestRecord(key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) },
                   headers: headers.mapValues { Array($0.utf8) },
                   timestamp: timestamp ?? Int64(Date().timeIntervalSince1970 * 1000))
    }

    /// Writes records to one partition, acknowledged before returning (the test plays the producer or MirrorMaker 2).
    static func produce(_ side: Side, _ topic: String, partition: Int32, _ records: [TestRecord]) async throws {
        let writer = try KafkaWriter(settings: KafkaClientSettings(endpoint: try endpoint(side), clientID: "syncd-test"),
                                     label: "test \(side)", batchSize: 500, compression: "none")
        try await writer.produceAndFlush(records.map {
            ProducedRecord(topic: topic, partition: partition, key: $0.key, value: $0.value, headers: $0.headers, timestamp: $0.timestamp)
        }, timeout: .seconds(20))
    }

    /// Every record of one partition, in order.
    static func read(_ side: Side, _ topic: String, partition: Int32) async throws -> [TestRecord] {
        let cluster = try KafkaCluster(side: side, endpoint: try endpoint(side), purpose: "test")
        let tp = TopicPartition(topic, partition)
        let (low, high) = try await cluster.watermarks(tp)
        return try await cluster.run { reader in
            try await reader.read(tp, from: low, to: high, into: [TestRecord]()) { records, view in
                var headers: [String: [UInt8]] = [:]
                view.forEachHeader { name, value in headers[String(cString: name)] = value.map { Array($0) } ?? [] }
                records.append(TestRecord(key: view.key.map { Array($0) }, value: view.value.map { Array($0) }, headers: headers, timestamp: view.timestamp))
            }.0
        }
    }

    static func highWatermark(_ side: Side, _ topic: String, partition: Int32) async throws -> Int64 {
        let cluster = try KafkaCluster(side: side, endpoint: try endpoint(side), purpose: "test")
        return try await cluster.watermarks(TopicPartition(topic, partition)).high
    }
}
