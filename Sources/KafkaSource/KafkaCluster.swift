import Foundation
import KafkaClient
import SyncCore

/// One side's cluster as syncd reads it: metadata, watermarks, records. Every call runs on the
/// reader's own queue; failures become SyncErrors that name the side.
final class KafkaCluster: Sendable {
    let side: Side
    let label: String
    let reader: KafkaRangeReader
    let timeout: Duration

    init(side: Side, endpoint: EndpointConfig, purpose: String, timeout: Duration = .seconds(5)) throws {
        self.side = side
        label = describeSide(side, endpoint)
        self.timeout = timeout
        do {
            reader = try KafkaRangeReader(settings: KafkaClientSettings(endpoint: endpoint, clientID: "syncd-\(purpose)"), label: label)
        } catch let error as KafkaError {
            throw SyncError.failed(error.message)
        }
    }

    /// Runs a reader call, translating librdkafka errors.
    func run<T: Sendable>(_ body: (KafkaRangeReader) async throws -> T) async throws -> T {
        do {
            return try await body(reader)
        } catch let error as KafkaError {
            if error.isUnreachable {
                throw SyncError.unreachable(side: label, message: error.message.replacingOccurrences(of: "\(label): ", with: ""))
            }
            throw SyncError.failed(error.message)
        }
    }

    func topics() async throws -> [String: Int] {
        try await run { try await $0.topicPartitions(timeout: timeout) }
    }

    func watermarks(_ partition: TopicPartition) async throws -> (low: Int64, high: Int64) {
        try await run { try await $0.watermarks(partition, timeout: timeout) }
    }

    /// Every partition's offsets in one batched request per end, in the order given.
    func watermarks(_ partitions: [TopicPartition]) async throws -> [(low: Int64, high: Int64)] {
        try await run { try await $0.watermarks(partitions, timeout: timeout) }
    }
}

/// Reads an offset-sync topic (MirrorMaker 2's or the built-in mirror's) incrementally and keeps
/// every partition's mapping.
final class OffsetSyncReader: @unchecked Sendable {
    let topic: String
    private let lock = NSLock()
    private var log = OffsetSyncLog()
    private var nextOffsets: [Int32: Int64] = [:]

    init(topic: String) {
        self.topic = topic
    }

    var current: OffsetSyncLog { lock.withLock { log } }

    /// Reads what was appended since the last call. A missing topic means no syncs yet.
    func refresh(from cluster: KafkaCluster) async throws -> OffsetSyncLog {
        let partitions = try await cluster.topics()[topic] ?? 0
        for index in 0..<Int32(partitions) {
            let partition = TopicPartition(topic, index)
            let (low, high) = try await cluster.watermarks(partition)
            let start = max(low, lock.withLock { nextOffsets[index] } ?? low)
            guard start < high else { continue }
            let (decoded, _) = try await cluster.run { reader in
                try await reader.read(partition, from: start, to: high, into: ([OffsetSync](), 0)) { found, record in
                    guard let key = record.key, let value = record.value,
                          let sync = try? OffsetSync.decode(key: Array(key), value: Array(value)) else {
                        found.1 += 1
                        return
                    }
                    found.0.append(sync)
                }
            }
            lock.withLock {
                decoded.0.forEach { log.apply($0) }
                for _ in 0..<decoded.1 { log.countUndecodable() }
                nextOffsets[index] = high
            }
        }
        return current
    }

    /// Drops what only source records gone from retention need (see `PartitionMapping.prune`).
    func prune(_ lows: [(TopicPartition, Int64)]) -> OffsetSyncLog {
        lock.withLock {
            for (partition, low) in lows { log.prune(partition, before: low) }
            return log
        }
    }
}

/// A source topic, the DR topic it is mirrored to, and their common partition count.
public struct MirroredTopic: Sendable, Equatable {
    public var source: String
    public var dr: String
    public var partitions: Int

    public var sourcePartitions: [TopicPartition] { (0..<Int32(partitions)).map { TopicPartition(source, $0) } }
}

/// The configured topics as they exist on both clusters; what does not line up is a problem that
/// makes the source `broken`.
struct TopicLayout: Sendable {
    var topics: [MirroredTopic]
    var problems: [String]

    /// The layout as both clusters report it now.
    static func read(options: KafkaOptions, mapping: TopicMapping, primary: KafkaCluster, dr: KafkaCluster) async throws -> TopicLayout {
        resolve(options: options, mapping: mapping, primary: try await primary.topics(), dr: try await dr.topics(),
                primaryLabel: primary.label, drLabel: dr.label)
    }

    static func resolve(options: KafkaOptions, mapping: TopicMapping, primary: [String: Int], dr: [String: Int],
                        primaryLabel: String, drLabel: String) -> TopicLayout {
        let names: [String]
        if let listed = options.topics {
            names = listed
        } else {
            let pattern = (try? Regex(options.topicPattern ?? "^$")) ?? (try! Regex("^$"))
            names = primary.keys.filter { name in
                !TopicMapping.isInternal(name) && name != options.offsetSyncsTopic && (try? pattern.wholeMatch(in: name)) != nil
            }.sorted()
        }
        var layout = TopicLayout(topics: [], problems: [])
        for name in names {
            let drName = mapping.drTopic(for: name)
            guard let sourceCount = primary[name] else {
                layout.problems.append("topic '\(name)' does not exist on the \(primaryLabel)")
                continue
            }
            guard let drCount = dr[drName] else {
                layout.problems.append("topic '\(drName)' (the mirror of '\(name)') does not exist on the \(drLabel); create it with \(sourceCount) partition(s)")
                continue
            }
            guard sourceCount == drCount else {
                layout.problems.append("partition count mismatch: '\(name)' has \(sourceCount) on the \(primaryLabel), '\(drName)' has \(drCount) on the \(drLabel); records cannot keep their partition")
                continue
            }
            layout.topics.append(MirroredTopic(source: name, dr: drName, partitions: sourceCount))
        }
        if options.topicPattern != nil, names.isEmpty {
            layout.problems.append("no topic on the \(primaryLabel) matches topic_pattern '\(options.topicPattern ?? "")'")
        }
        return layout
    }
}
