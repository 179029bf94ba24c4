import Foundation
import Logging
import Metrics
import SQLiteJournal
import Testing
@testable import SyncCore
@testable import SyncManager
import TestSupport

/// The journal stays bounded under a polling pipeline: repeats are counted, not written.
@Suite struct GateRepeatsTests {
    static func verdict(_ status: GateStatus, _ reasons: [String], at time: Date = Date()) -> GateVerdict {
        GateVerdict(status: status, evaluatedAt: time, sources: [SourceVerdict(source: "pg", status: status, reasons: reasons)])
    }

    @Test("a verdict repeating its caller's previous one, numbers aside, is counted; the count lands once a minute; a change is written at once")
    func repeatsAreCounted() async {
        let repeats = GateRepeats()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let first = await repeats.record(actor: "ci", verdict: Self.verdict(.fail, ["lag 12.5 s over budget 5 s"]), source: "pg", at: start)
        #expect(first.write && first.summaries.isEmpty)
        for second in 1...30 {
            let again = await repeats.record(actor: "ci", verdict: Self.verdict(.fail, ["lag \(second).2 s over budget 5 s"]), source: "pg",
                                             at: start.addingTimeInterval(Double(second)))
            #expect(!again.write && again.summaries.isEmpty, "second \(second)")
        }
        // Another caller's verdicts are its own.
        #expect(await repeats.record(actor: "other", verdict: Self.verdict(.fail, ["lag 1 s over budget 5 s"]), source: "pg", at: start).write)
        let minute = await repeats.record(actor: "ci", verdict: Self.verdict(.fail, ["lag 99 s over budget 5 s"]), source: "pg",
                                          at: start.addingTimeInterval(61))
        #expect(!minute.write && minute.summaries.map(\.count) == [31], "\(minute.summaries)")
        #expect(minute.summaries.first?.first == start.addingTimeInterval(1) && minute.summaries.first?.last == start.addingTimeInterval(61))
        _ = await repeats.record(actor: "ci", verdict: Self.verdict(.fail, ["lag 3 s over budget 5 s"]), source: "pg", at: start.addingTimeInterval(62))
        let changed = await repeats.record(actor: "ci", verdict: Self.verdict(.pass, []), source: "pg", at: start.addingTimeInterval(63))
        #expect(changed.write && changed.summaries.map(\.count) == [1], "the pending repeat is written before the new verdict")
        let otherReason = await repeats.record(actor: "ci", verdict: Self.verdict(.fail, ["the DR side is unreachable"]), source: "pg",
                                               at: start.addingTimeInterval(64))
        #expect(otherReason.write, "a different reason is a different verdict")
        let flushed = await repeats.due(now: start.addingTimeInterval(65), all: true)
        #expect(flushed.isEmpty, "nothing pending: \(flushed)")
    }

    @Test("through the manager: 500 identical gate calls write one verdict; stopping writes the count of the rest")
    func managerWritesOnce() async throws {
        let site = try await CutoverTests.site(["pg"])
        for _ in 0..<500 { _ = try await site.manager.evaluateGate(sources: ["pg"], actor: "pipeline") }
        let entries = try await site.manager.journal.recent(limit: 1000, kind: "gate")
        #expect(entries.count == 1 && entries[0].action == "evaluate", "\(entries.count) gate entries")
        await site.manager.journalRepeats(await site.manager.gateRepeats.due(now: Date(), all: true))
        let after = try await site.manager.journal.recent(limit: 1000, kind: "gate")
        #expect(after.count == 2 && after[0].action == "repeated" && after[0].detail?["count"] == .number(499), "\(after.map(\.action))")
        #expect(try await site.manager.journal.verifyChain().ok)
    }
}
