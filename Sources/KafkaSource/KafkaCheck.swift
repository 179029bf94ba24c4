import Foundation
import KafkaClient
import SyncCore

/// The Kafka side of a check (`CheckEngine` runs the rounds): scopes are topics; each partition's
/// mapped source range, fixed at the source's position when the check started, is compared
/// chunk by chunk; re-check rounds re-read partitions that differed once the DR side caught up.
struct KafkaCheck: CheckStrategy {
    let source: KafkaSource
    let config: SourceConfig
    let options: KafkaOptions
    let checkOptions: CheckOptions
    let started = Date()
    var layout = TopicLayout(topics: [], problems: [])
    var observation: KafkaSource.Observation?
    /// The observation taken after the latest catch-up wait, for the re-check round that follows.
    var fresh: KafkaSource.Observation?
    var checker: KafkaChecker?
    var comparisons: [PartitionComparison] = []

    var words: SourceWords { .kafka }

    mutating func prepare(_ reporter: CheckReporter) async throws -> [String] {
        let fullLayout = try await source.layout()
        layout = fullLayout
        if let wanted = checkOptions.tables {
            let known = Set(fullLayout.topics.map(\.source))
            let unknown = wanted.filter { topic in !known.contains(topic) && !fullLayout.problems.contains { $0.contains("'\(topic)'") } }
            guard unknown.isEmpty else {
                throw SyncError.invalidState("unknown topic(s) \(unknown.map { "'\($0)'" }.joined(separator: ", ")) for '\(config.name)' (configured: \(known.sorted().joined(separator: ", ")))")
            }
            layout.topics = fullLayout.topics.filter { wanted.contains($0.source) }
            layout.problems = fullLayout.problems.filter { problem in wanted.contains { problem.contains("'\($0)'") } }
        }
        let observation = try await source.observe(layout: layout)
        self.observation = observation
        checker = try KafkaChecker(config: config)
        // The source's position at the start is what this check compares; later writes are not its business.
        comparisons = observation.partitions.map { KafkaChecker.plan($0, end: $0.sourceHigh) }
        return layout.topics.map(\.source) + layout.problems.map(Self.problemTopic)
    }

    static func problemTopic(_ problem: String) -> String {
        problem.split(separator: "'").dropFirst().first.map(String.init) ?? "?"
    }

    var primaryItems: Int64 { comparisons.reduce(Int64(0)) { $0 + $1.primaryRecords } }

    /// The comparisons of scope `scope`'s partitions (none for a layout problem).
    func partitions(_ scope: Int) -> [Int] {
        guard scope < layout.topics.count else { return [] }
        let topic = layout.topics[scope].source
        return comparisons.indices.filter { comparisons[$0].state.source.topic == topic }
    }

    mutating func compare(_ scope: Int, budget: Int64?, reporter: CheckReporter) async throws -> Bool {
        guard let checker else { return false }
        for index in partitions(scope) {
            // Changed and extra records do not settle with time: once they exceed the budget, a pass is impossible.
            if let budget, budgetUsed(scope) > budget { return true }
            comparisons[index] = try await checker.compare(comparisons[index], maxOffsets: checkOptions.maxDiffs) { reporter.compared($0) }
        }
        return false
    }

    func budgetUsed(_ scope: Int) -> Int64 {
        partitions(scope).reduce(Int64(0)) { $0 + comparisons[$1].changed + comparisons[$1].extra }
    }

    func needsRecheck(_ scope: Int) -> Bool {
        partitions(scope).contains { comparisons[$0].differing > 0 }
    }

    mutating func catchUp(before round: Int, timeout: Duration) async throws -> CatchUpOutcome {
        let outcome = await source.waitForCatchUp(comparisons, timeout: timeout)
        if case .cannotProgress = outcome { return outcome }
        fresh = try await source.observe(layout: layout)
        return outcome
    }

    mutating func recheck(_ scope: Int, round: Int, reporter: CheckReporter) async throws {
        guard let checker, let fresh else { return }
        for index in partitions(scope) where comparisons[index].differing > 0 {
            guard let state = fresh.partitions.first(where: { $0.source == comparisons[index].state.source }) else { continue }
            let end = comparisons[index].end
            comparisons[index] = try await checker.compare(KafkaChecker.plan(state, end: end), maxOffsets: checkOptions.maxDiffs) {
                reporter.compared($0)
            }
        }
    }

    func report(_ scope: Int, compared: Bool, rounds: Int, limit: Int) -> ScopeReport? {
        guard scope < layout.topics.count else {
            let problem = layout.problems[scope - layout.topics.count]
            return ScopeReport(result: TableCheckResult(table: Self.problemTopic(problem), status: .error, reason: problem), diffs: [], differing: 0)
        }
        guard compared else { return nil }
        let parts = partitions(scope).map { comparisons[$0] }
        let sum = { (value: (PartitionComparison) -> Int64) in parts.reduce(Int64(0)) { $0 + value($1) } }
        let differing = sum(\.differing)
        let skipped = sum(\.skipped)
        let result = TableCheckResult(
            table: layout.topics[scope].source, status: differing > 0 ? .different : .equal,
            reason: skipped > 0 ? "\(skipped) record(s) not compared: mirrored before the current mapping or gone from the DR side's retention" : nil,
            primaryRows: sum(\.primaryRecords), drRows: sum(\.drRecords), missing: sum(\.missing), extra: sum(\.extra), changed: sum(\.changed),
            segmentsCompared: parts.reduce(0) { $0 + $1.chunks }, durationSeconds: Date().timeIntervalSince(started))
        return ScopeReport(result: result, diffs: Self.diffs(parts, limit: limit), differing: differing)
    }

    /// Changed records by both offsets, then the missing source offsets, then the extra DR offsets.
    static func diffs(_ parts: [PartitionComparison], limit: Int) -> [Diff] {
        var diffs: [Diff] = []
        func key(_ topic: String, _ partition: Int32, _ fields: [String: JSONValue]) -> JSONValue {
            .object(fields.merging(["topic": .string(topic), "partition": .number(Double(partition))]) { own, _ in own })
        }
        for comparison in parts {
            let tp = comparison.state.source
            for (offset, drOffset) in comparison.changedOffsets where diffs.count < limit {
                diffs.append(Diff(table: tp.topic, key: key(tp.topic, tp.partition, ["offset": .number(Double(offset)), "dr_offset": .number(Double(drOffset))]),
                                  kind: .changed, detail: "key, value, headers or timestamp differ"))
            }
            var offset = comparison.missingFrom
            while offset < comparison.end, diffs.count < limit {
                diffs.append(Diff(table: tp.topic, key: key(tp.topic, tp.partition, ["offset": .number(Double(offset))]), kind: .missing))
                offset += 1
            }
            var drOffset = comparison.extraFrom
            while drOffset < comparison.extraFrom + comparison.extra, diffs.count < limit {
                diffs.append(Diff(table: tp.topic, key: key(comparison.state.dr.topic, tp.partition, ["dr_offset": .number(Double(drOffset))]), kind: .extra))
                drOffset += 1
            }
        }
        return diffs
    }

    func notes(rounds: Int) -> [String] {
        var notes: [String] = []
        if observation?.syncs.mappings.isEmpty ?? true {
            notes.append("no offset syncs in \(options.offsetSyncsTopic): source and DR offsets are assumed to be the same")
        } else if let syncs = observation?.syncs {
            notes.append("source offsets were mapped to DR offsets with \(syncs.recordsRead) offset sync(s) from \(options.offsetSyncsTopic)")
        }
        notes.append("each side's records were compared by a digest of (timestamp, key, value, headers) in chunks of up to \(KafkaChecker.chunkSize); unequal chunks were bisected to the differing records")
        if rounds > 1 { notes.append("partitions that differed were re-read in up to \(rounds) rounds after the DR side caught up with the source position at the start; only what persisted is reported") }
        if comparisons.contains(where: { $0.changed + $0.extra > 0 }) {
            notes.append("records that differ in the middle of a partition, or extra DR records, cannot be repaired in place on an append-only log: force a full sync")
        }
        return notes
    }

    mutating func close() async {}
}
