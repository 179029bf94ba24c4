import Foundation
import Testing
@testable import SyncCore
@testable import SyncManager

@Suite struct StatusSummaryTests {
    let now = Date()
    let policy = GatePolicy(lagBudgetSeconds: 30, checkMaxAgeSeconds: 900, ratioThreshold: 0.99999, sampleMaxAgeSeconds: 10)

    func status(_ name: String, state: SyncState?, lag: Double?, checkAge: Double?) -> SourceStatus {
        let sample = state.map { Sample(time: now, state: $0, lagSeconds: lag, unit: .bytes) }
        let check = checkAge.map { CheckSummary(finishedAt: now.addingTimeInterval(-$0), ratio: 1, countRatio: 1) }
        let verdict = Gate.evaluate(source: name, policy: policy, sample: sample, check: check, now: now)
        return SourceStatus(name: name, kind: SourceKind(rawValue: "redis"), pollIntervalSeconds: 1, pollTimeoutSeconds: 5, policy: policy,
                            capabilities: [], latest: sample, latestCheck: check, runningOperation: nil, verdict: verdict)
    }

    @Test("the summary line: sources in sync of all, the worst known lag and whose, unknown lags, checks older than their limit")
    func summarises() {
        let summary = StatusSummary([
            status("a", state: .inSync, lag: 0.5, checkAge: 60),
            status("b", state: .lagging, lag: 42, checkAge: 1000),
            status("c", state: .unreachable, lag: nil, checkAge: nil),
            status("d", state: nil, lag: nil, checkAge: 10),
        ])
        #expect(summary.sources == 4 && summary.inSync == 1)
        #expect(summary.worstLagSeconds == 42 && summary.worstLagSource == "b")
        #expect(summary.lagUnknown == ["c", "d"])
        #expect(summary.checksTooOld == ["b", "c"])
        let empty = StatusSummary([])
        #expect(empty.worstLagSeconds == nil && empty.sources == 0)
    }
}
