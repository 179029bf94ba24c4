import Foundation
import SyncCore

/// Keeps the journal bounded while it stays append-only: a gate verdict that repeats its caller's
/// previous one (same status, sources and reasons, numbers aside) is counted instead of written,
/// and the count lands as one `gate`/`repeated` entry per caller at most once a minute.
actor GateRepeats {
    struct Pending {
        var signature: String
        var outcome: String
        var source: String?
        var sources: [String]
        var count = 0
        var first: Date?
        var last: Date?
        var flushed: Date
    }

    struct Summary: Sendable, Equatable {
        var actor: String
        var outcome: String
        var source: String?
        var sources: [String]
        var count: Int
        var first: Date
        var last: Date

        var detail: JSONValue {
            .object(["count": .number(Double(count)), "first": .string(iso8601(first)), "last": .string(iso8601(last)),
                     "sources": .array(sources.map { .string($0) }),
                     "message": .string("\(count) more verdict(s) like the one before, \(iso8601(first)) to \(iso8601(last))")])
        }
    }

    static let summaryInterval: Double = 60
    /// Callers remembered at once; the oldest is flushed and forgotten past this.
    static let maxCallers = 1000

    private var callers: [String: Pending] = [:]

    /// The words of a verdict without its figures: what makes two verdicts "the same".
    static func signature(_ verdict: GateVerdict) -> String {
        func words(_ text: String) -> String {
            text.replacing(/[0-9]+(\.[0-9]+)?/, with: "#")
        }
        return ([verdict.status.rawValue] + verdict.sources.map { source in
            "\(source.source)\u{1F}\(source.status.rawValue)\u{1F}" + source.reasons.map(words).joined(separator: "\u{1E}")
        }).joined(separator: "\u{1D}")
    }

    /// Whether to write this verdict, and any summary of repeats that must be written first.
    func record(actor: String, verdict: GateVerdict, source: String?, at now: Date) -> (write: Bool, summaries: [Summary]) {
        let signature = Self.signature(verdict)
        if var pending = callers[actor], pending.signature == signature {
            pending.count += 1
            pending.first = pending.first ?? now
            pending.last = now
            callers[actor] = pending
            return (false, flushDue(actor: actor, now: now).map { [$0] } ?? [])
        }
        var summaries: [Summary] = []
        if let previous = callers[actor], let summary = Self.summary(actor, previous) { summaries.append(summary) }
        callers[actor] = Pending(signature: signature, outcome: verdict.status.rawValue, source: source,
                                 sources: verdict.sources.map(\.source), flushed: now)
        if callers.count > Self.maxCallers, let oldest = callers.min(by: { $0.value.flushed < $1.value.flushed })?.key, oldest != actor {
            if let summary = Self.summary(oldest, callers[oldest]!) { summaries.append(summary) }
            callers[oldest] = nil
        }
        return (true, summaries)
    }

    /// Summaries of every caller whose repeats waited a minute or more (all of them when `all`).
    func due(now: Date, all: Bool = false) -> [Summary] {
        callers.keys.sorted().compactMap { actor in all ? take(actor, now: now) : flushDue(actor: actor, now: now) }
    }

    private func flushDue(actor: String, now: Date) -> Summary? {
        guard let pending = callers[actor], now.timeIntervalSince(pending.flushed) >= Self.summaryInterval else { return nil }
        return take(actor, now: now)
    }

    private func take(_ actor: String, now: Date) -> Summary? {
        guard var pending = callers[actor] else { return nil }
        let summary = Self.summary(actor, pending)
        pending.count = 0
        pending.first = nil
        pending.last = nil
        pending.flushed = now
        callers[actor] = pending
        return summary
    }

    private static func summary(_ actor: String, _ pending: Pending) -> Summary? {
        guard pending.count > 0, let first = pending.first, let last = pending.last else { return nil }
        return Summary(actor: actor, outcome: pending.outcome, source: pending.source, sources: pending.sources,
                       count: pending.count, first: first, last: last)
    }
}

extension SyncManager {
    /// Kinds a retention prune never removes: cutover runs and their report digests are evidence.
    /// Cutover runs, and whether replication is paused (its last entry may be months old).
    public static let keptJournalKinds: Set<String> = ["cutover", replicationKind]

    func journalRepeats(_ summaries: [GateRepeats.Summary]) async {
        for summary in summaries {
            do {
                try await journal.append(kind: "gate", source: summary.source, actor: summary.actor, action: "repeated",
                                         outcome: summary.outcome, detail: summary.detail, at: summary.last)
            } catch {
                logger.warning("could not journal \(summary.count) repeated gate verdict(s) of \(summary.actor): \(error)")
            }
        }
    }

    /// Every minute: the repeated-verdict summaries that are due; every hour (and at start): the
    /// retention prune. On stop, every pending summary.
    func keepJournal() async {
        var lastPrune: Date?
        while true {
            if let retention = journalRetention, lastPrune.map({ Date().timeIntervalSince($0) >= 3600 }) ?? true {
                lastPrune = Date()
                await prune(retention: retention)
            }
            do {
                try await Task.sleep(for: .seconds(GateRepeats.summaryInterval))
            } catch {
                await journalRepeats(await gateRepeats.due(now: Date(), all: true))
                return
            }
            await journalRepeats(await gateRepeats.due(now: Date()))
        }
    }

    func prune(retention: Double) async {
        let cutoff = Date().addingTimeInterval(-retention)
        do {
            if let checkpoint = try await journal.prune(olderThan: cutoff, keepKinds: Self.keptJournalKinds, actor: "syncd") {
                logger.notice("journal: pruned entries older than \(iso8601(cutoff)) (through entry \(checkpoint.throughEntry); \(checkpoint.kept.count) cutover and replication entries kept)")
            }
        } catch {
            logger.warning("journal: the retention prune failed: \(error)")
        }
    }
}

func iso8601(_ date: Date) -> String { date.formatted(.iso8601) }
