import Foundation
import SyncCore

/// A source's lag over one summary interval. syncd journals one per source per interval (kind
/// "lag"), so the exposure a cutover reports reaches back past the samples held in memory: across
/// a restart of syncd, and from `syncctl --config`, which holds only the samples of one command.
public struct LagSummary: Sendable, Codable, Equatable {
    public var from: Date
    public var to: Date
    public var samples: Int
    /// Samples whose lag could not be known (unreachable, broken): the worst lag is a lower bound when > 0.
    public var samplesWithoutLag: Int
    public var worstLagSeconds: Double?
    public var worstLagAt: Date?
    public var worstLagVolume: Int64?
    public var unit: VolumeUnit

    /// Nil when no sample falls in the interval.
    public init?(samples: [Sample], unit: VolumeUnit) {
        guard let first = samples.first, let last = samples.last else { return nil }
        from = first.time
        to = last.time
        self.samples = samples.count
        samplesWithoutLag = samples.filter { $0.lagSeconds == nil }.count
        let worst = samples.filter { $0.lagSeconds != nil }.max { $0.lagSeconds! < $1.lagSeconds! }
        worstLagSeconds = worst?.lagSeconds
        worstLagAt = worst?.time
        worstLagVolume = samples.compactMap(\.lagVolume).max()
        self.unit = unit
    }
}

extension SyncManager {
    public static let lagJournalKind = "lag"

    /// Journals each source's lag summary every `interval` until cancelled, then once more for the
    /// part-interval since the last (so a graceful stop leaves no gap in the record).
    func journalLagSummaries(every interval: Double) async {
        var since: [String: Date] = [:]
        let started = Date()
        while true {
            let stopping: Bool
            do {
                try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                stopping = false
            } catch {
                stopping = true
            }
            for monitor in monitors {
                let name = monitor.config.name
                let after = since[name] ?? started
                let samples = await monitor.history(limit: Int.max).filter { $0.time > after }
                guard let summary = LagSummary(samples: samples, unit: monitor.adapter.volumeUnit) else { continue }
                do {
                    try await journal.append(kind: Self.lagJournalKind, source: name, actor: "syncd", action: "summary", outcome: "ok",
                                             detail: try JSONValue.from(summary), at: summary.to)
                    since[name] = summary.to
                } catch {
                    logger.warning("could not journal the lag summary of \(name): \(error)")
                }
            }
            if stopping || Task.isCancelled { return }
        }
    }

    /// The lag summaries journaled for a source within `window` seconds before `now`, oldest first.
    func journaledLagSummaries(source: String, window: Double, now: Date) async -> (summaries: [LagSummary], error: String?) {
        let limit = max(10, Int(window / max(1, lagSummaryInterval)) + 10)
        do {
            let entries = try await journal.recent(limit: limit, source: source, kind: Self.lagJournalKind)
            let summaries = entries.compactMap { try? $0.detail?.decoded(as: LagSummary.self) }
                .filter { $0.to >= now.addingTimeInterval(-window) }
            return (summaries.sorted { $0.from < $1.from }, nil)
        } catch {
            return ([], "\(error)")
        }
    }
}
