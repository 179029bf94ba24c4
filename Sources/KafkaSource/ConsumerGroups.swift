import Foundation
import KafkaClient
import SyncCore

/// After a cutover consumers resume from their group's committed offsets on the DR cluster.
/// Each configured group's primary offsets are translated through the offset mapping (the
/// built-in mirror's syncs, or MirrorMaker 2's) and compared with what the group has committed on
/// the DR cluster: ahead of the translation, its consumers would silently skip records (the gate
/// fails); behind it, they would re-read some (a warning); none at all, they would start wherever
/// auto.offset.reset says (the gate fails).
extension KafkaSource {
    struct GroupFindings {
        var diffs: [Diff] = []
        var blockers: [String] = []
        var warnings: [String] = []
        var notes: [String] = []
    }

    func compareConsumerGroups() async throws -> GroupFindings {
        var findings = GroupFindings()
        var groups = options.consumerGroups
        if groups.isEmpty {
            // Not configured: every group the primary lists (those without commits on the
            // checked topics drop out below), where the cluster lists groups at all.
            let settings = KafkaClientSettings(endpoint: config.primary, clientID: "syncd-groups-\(name)")
            guard let listed = try? await GroupOffsets.list(settings: settings, label: describeSide(.primary, config.primary)), !listed.isEmpty else {
                return findings
            }
            groups = listed.filter { !$0.hasPrefix("syncd-") }
            findings.notes.append("consumer groups discovered on the primary: \(groups.count) (configure consumer_groups to choose them)")
        }
        let (topics, syncs) = try await mirroredTopics()
        let drPartitions = topics.flatMap { topic in topic.sourcePartitions.map { TopicPartition(topic.dr, $0.partition) } }
        for group in groups {
            let drCommitted = try await committed(.dr, group: group, partitions: drPartitions)
            for position in try await positions(of: group, topics: topics, syncs: syncs) {
                let (target, offset) = (position.target, position.committed)
                let key = JSONValue.object(["group": .string(group), "topic": .string(target.topic), "partition": .number(Double(target.partition))])
                guard let actual = drCommitted[target] else {
                    let text = "group \(group) has no committed offset for \(target) on the DR cluster (the primary's is \(offset)): its consumers would start from auto.offset.reset there"
                    findings.diffs.append(Diff(table: "consumer groups", key: key, kind: .consumerGroup, detail: "not committed on the DR cluster"))
                    findings.blockers.append(text)
                    continue
                }
                guard let expected = position.translated else { continue }  // before the mirrored range: nothing on the DR side to compare
                if actual > expected {
                    findings.diffs.append(Diff(table: "consumer groups", key: key, kind: .consumerGroup,
                                               detail: "would skip \(actual - expected) record(s): DR committed \(actual), the primary's \(offset) maps to \(expected)"))
                    findings.blockers.append("group \(group) would skip \(actual - expected) record(s) of \(target) on the DR cluster (committed \(actual); the primary's offset \(offset) maps to \(expected))")
                } else if actual < expected {
                    findings.diffs.append(Diff(table: "consumer groups", key: key, kind: .consumerGroup,
                                               detail: "would re-read \(expected - actual) record(s) (warning): DR committed \(actual), the primary's \(offset) maps to \(expected)"))
                    findings.warnings.append("group \(group) would re-read \(expected - actual) record(s) of \(target) on the DR cluster")
                }
            }
        }
        return findings
    }

    /// The mirrored topics and the offset mapping, as they are now.
    func mirroredTopics() async throws -> ([MirroredTopic], OffsetSyncLog) {
        (try await layout().topics, try await OffsetSyncReader(topic: options.offsetSyncsTopic).refresh(from: cluster(syncsSide)))
    }

    /// Where a group stands on each mirrored partition: its committed offset on the primary and
    /// where that lands on the DR side (nil before the mirrored range).
    struct GroupPosition {
        var target: TopicPartition
        var committed: Int64
        var translated: Int64?
    }

    func positions(of group: String, topics: [MirroredTopic], syncs: OffsetSyncLog) async throws -> [GroupPosition] {
        let committed = try await self.committed(.primary, group: group, partitions: topics.flatMap { $0.sourcePartitions })
        return topics.flatMap { topic in
            topic.sourcePartitions.compactMap { partition in
                committed[partition].map { offset in
                    GroupPosition(target: TopicPartition(topic.dr, partition.partition), committed: offset,
                                  translated: syncs.mapping(partition).drOffset(forSource: offset))
                }
            }
        }
    }

    func committed(_ side: Side, group: String, partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] {
        let endpoint = side == .primary ? config.primary : config.dr
        do {
            return try await GroupOffsets.committed(settings: KafkaClientSettings(endpoint: endpoint, clientID: "syncd-groups-\(name)"),
                                                    label: describeSide(side, endpoint), group: group, partitions: partitions)
        } catch let error as KafkaError {
            if error.isUnreachable { throw SyncError.unreachable(side: describeSide(side, endpoint), message: error.message) }
            throw SyncError.failed(error.message)
        }
    }

    /// The built-in mirror's group offset sync (`sync_group_offsets`): every few seconds each
    /// configured group's primary offsets are translated and committed on the DR cluster, so its
    /// consumers resume there where they left off. A group with live members on the DR cluster
    /// refuses the commit (it owns its offsets); that is noted, never forced.
    func syncGroupOffsets() async {
        while !Task.isCancelled {
            // Paused (after a cutover, say), the DR side's consumers own their offsets now.
            if mirror?.isPaused == true {
                try? await Task.sleep(for: .milliseconds(500))
                continue
            }
            do {
                let (topics, syncs) = try await mirroredTopics()
                for group in options.consumerGroups {
                    var translated: [TopicPartition: Int64] = [:]
                    for position in try await positions(of: group, topics: topics, syncs: syncs) {
                        if let target = position.translated { translated[position.target] = target }
                    }
                    guard !translated.isEmpty else { continue }
                    try await GroupOffsets.commit(settings: KafkaClientSettings(endpoint: config.dr, clientID: "syncd-groups-\(name)"),
                                                  label: describeSide(.dr, config.dr), group: group, offsets: translated)
                }
            } catch {
                mirror?.note("group offset sync: \(error)")
            }
            try? await Task.sleep(for: .seconds(5))
        }
    }
}
