import Foundation
import Testing
@testable import SyncCore

/// A strategy over in-memory scopes: each scope's differences per round are given up front, so
/// the engine's bookkeeping (budget, early stop, rounds, listing, notes) is all that is tested.
private struct PlannedStrategy: CheckStrategy {
    struct Scope: Sendable {
        var label: String
        var primary: Int64
        /// Differences seen in round n (index n - 1); the last entry holds for later rounds.
        var differingByRound: [Int64]
    }

    var scopes: [Scope]
    var catchUps: [CatchUpOutcome] = []
    var failAt: Int?
    var current: [Int: Int64] = [:]
    var compared: [Int] = []
    var rechecked: [(scope: Int, round: Int)] = []
    let closed = Flag()

    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.withLock { value = true } }
        var isSet: Bool { lock.withLock { value } }
    }

    var words: SourceWords { .tables }
    var primaryItems: Int64 { scopes.reduce(0) { $0 + $1.primary } }

    mutating func prepare(_ reporter: CheckReporter) async throws -> [String] { scopes.map(\.label) }

    mutating func compare(_ scope: Int, budget: Int64?, reporter: CheckReporter) async throws -> Bool {
        if failAt == scope { throw SyncError.failed("scope \(scope) failed") }
        compared.append(scope)
        current[scope] = scopes[scope].differingByRound[0]
        reporter.compared(scopes[scope].primary)
        return false
    }

    func budgetUsed(_ scope: Int) -> Int64 { current[scope] ?? 0 }
    func needsRecheck(_ scope: Int) -> Bool { (current[scope] ?? 0) > 0 }

    mutating func catchUp(before round: Int, timeout: Duration) async throws -> CatchUpOutcome {
        catchUps.isEmpty ? .caughtUp : catchUps.removeFirst()
    }

    mutating func recheck(_ scope: Int, round: Int, reporter: CheckReporter) async throws {
        rechecked.append((scope, round))
        let plan = scopes[scope].differingByRound
        current[scope] = plan[min(round - 1, plan.count - 1)]
    }

    func report(_ scope: Int, compared: Bool, rounds: Int, limit: Int) -> ScopeReport? {
        guard compared else { return nil }
        let differing = current[scope] ?? 0
        let diffs = (0..<min(Int(differing), limit)).map {
            Diff(table: scopes[scope].label, key: .object(["id": .number(Double($0))]), kind: .missing)
        }
        return ScopeReport(result: TableCheckResult(table: scopes[scope].label, status: differing > 0 ? .different : .equal,
                                                    primaryRows: scopes[scope].primary, drRows: scopes[scope].primary - differing,
                                                    missing: differing),
                           diffs: diffs, differing: differing)
    }

    func notes(rounds: Int) -> [String] { ["own note"] }
    mutating func close() async { closed.set() }
}

private func run(_ strategy: inout PlannedStrategy, _ options: CheckOptions, threshold: Double = 0.999) async throws -> CheckResult {
    try await CheckEngine.run(&strategy, source: "planned", threshold: threshold, options: options) { _ in }
}

@Suite struct CheckEngineTests {
    @Test("once a pass is impossible the check stops, and the scopes after it are listed as not compared")
    func stopsEarlyAndListsTheRest() async throws {
        // 3000 primary items at 0.999 allow 3 differences; the first scope already has 5.
        var strategy = PlannedStrategy(scopes: [.init(label: "a", primary: 1000, differingByRound: [5]),
                                                .init(label: "b", primary: 1000, differingByRound: [0]),
                                                .init(label: "c", primary: 1000, differingByRound: [0])])
        let result = try await run(&strategy, CheckOptions(rounds: 3))
        #expect(strategy.compared == [0])
        #expect(result.stoppedEarly && result.diffsTruncated)
        #expect(result.tables.map(\.status) == [.different, .notCompared, .notCompared])
        #expect(result.tables[1].reason?.contains("every table") == true, "\(String(describing: result.tables[1].reason))")
        #expect(result.rounds == 1, "no re-check rounds once a pass is impossible")
        #expect(result.status == .fail)
    }

    @Test func fullDiffComparesEveryScope() async throws {
        var strategy = PlannedStrategy(scopes: [.init(label: "a", primary: 1000, differingByRound: [5]),
                                                .init(label: "b", primary: 1000, differingByRound: [2])])
        let result = try await run(&strategy, CheckOptions(rounds: 1, fullDiff: true))
        #expect(strategy.compared == [0, 1])
        #expect(!result.stoppedEarly)
        #expect(result.diffs.count == 7 && !result.diffsTruncated)
    }

    @Test("re-check rounds re-read only what differs, and report what persists")
    func roundsRecheckWhatDiffers() async throws {
        var strategy = PlannedStrategy(scopes: [.init(label: "a", primary: 1000, differingByRound: [2, 1, 0]),
                                                .init(label: "b", primary: 1000, differingByRound: [0]),
                                                .init(label: "c", primary: 1000, differingByRound: [1, 1])])
        let result = try await run(&strategy, CheckOptions(rounds: 3))
        #expect(strategy.rechecked.map(\.scope) == [0, 2, 0, 2])
        #expect(strategy.rechecked.map(\.round) == [2, 2, 3, 3])
        #expect(result.rounds == 3)
        #expect(result.tables.map(\.status) == [.equal, .equal, .different])
        #expect(result.diffs.count == 1)
        #expect(result.notes == ["own note"])
    }

    @Test("a DR side that cannot catch up ends the rounds with a note; a timed-out wait is noted and the round runs")
    func catchUpOutcomesAreNoted() async throws {
        var stalled = PlannedStrategy(scopes: [.init(label: "a", primary: 1000, differingByRound: [2, 0])],
                                      catchUps: [.cannotProgress("the mirror is paused")])
        let skipped = try await run(&stalled, CheckOptions(rounds: 3))
        #expect(skipped.rounds == 1 && stalled.rechecked.isEmpty)
        #expect(skipped.notes.contains("re-check round 2 skipped: the mirror is paused; the differences are those of round 1"), "\(skipped.notes)")

        var slow = PlannedStrategy(scopes: [.init(label: "a", primary: 1000, differingByRound: [2, 0])], catchUps: [.timedOut])
        let late = try await run(&slow, CheckOptions(rounds: 3, catchUpTimeout: .seconds(2)))
        #expect(late.rounds == 2 && late.tables[0].status == .equal)
        #expect(late.notes.contains { $0.hasPrefix("re-check round 2: the DR side was still behind after the whole catch-up wait (2") }, "\(late.notes)")
    }

    @Test func theListingStopsAtMaxDiffsAcrossScopesWhileTotalsStayExact() async throws {
        var strategy = PlannedStrategy(scopes: [.init(label: "a", primary: 1000, differingByRound: [3]),
                                                .init(label: "b", primary: 1000, differingByRound: [3])])
        let result = try await run(&strategy, CheckOptions(maxDiffs: 4, rounds: 1, fullDiff: true))
        #expect(result.diffs.map(\.table) == ["a", "a", "a", "b"])
        #expect(result.diffsTruncated)
        #expect(result.tables.map(\.missing) == [3, 3])
    }

    @Test func connectionsAreReleasedAfterSuccessAndFailure() async throws {
        var good = PlannedStrategy(scopes: [.init(label: "a", primary: 10, differingByRound: [0])])
        _ = try await run(&good, CheckOptions())
        #expect(good.closed.isSet)
        var bad = PlannedStrategy(scopes: [.init(label: "a", primary: 10, differingByRound: [0])], failAt: 0)
        await #expect(throws: SyncError.failed("scope 0 failed")) { try await run(&bad, CheckOptions()) }
        #expect(bad.closed.isSet)
    }
}

/// Scopes `prepare` already judged need no comparison, so a spent budget does not stop the check at them.
private struct PrejudgedStrategy: CheckStrategy {
    var inner: PlannedStrategy
    let settled: Set<Int>

    var words: SourceWords { inner.words }
    var primaryItems: Int64 { inner.primaryItems }
    func isSettled(_ scope: Int) -> Bool { settled.contains(scope) }
    mutating func prepare(_ reporter: CheckReporter) async throws -> [String] { try await inner.prepare(reporter) }
    mutating func compare(_ scope: Int, budget: Int64?, reporter: CheckReporter) async throws -> Bool {
        try await inner.compare(scope, budget: budget, reporter: reporter)
    }
    func budgetUsed(_ scope: Int) -> Int64 { inner.budgetUsed(scope) }
    func needsRecheck(_ scope: Int) -> Bool { inner.needsRecheck(scope) }
    mutating func catchUp(before round: Int, timeout: Duration) async throws -> CatchUpOutcome { try await inner.catchUp(before: round, timeout: timeout) }
    mutating func recheck(_ scope: Int, round: Int, reporter: CheckReporter) async throws { try await inner.recheck(scope, round: round, reporter: reporter) }
    func report(_ scope: Int, compared: Bool, rounds: Int, limit: Int) -> ScopeReport? {
        inner.report(scope, compared: compared || settled.contains(scope), rounds: rounds, limit: limit)
    }
    func notes(rounds: Int) -> [String] { inner.notes(rounds: rounds) }
    mutating func close() async { await inner.close() }
}

extension CheckEngineTests {
    @Test func aSettledScopeAfterASpentBudgetIsNotAStop() async throws {
        var strategy = PrejudgedStrategy(inner: PlannedStrategy(scopes: [.init(label: "a", primary: 1000, differingByRound: [5]),
                                                                         .init(label: "b", primary: 1000, differingByRound: [0]),
                                                                         .init(label: "c", primary: 1000, differingByRound: [0])]),
                                         settled: [1])
        let result = try await CheckEngine.run(&strategy, source: "p", threshold: 0.999, options: CheckOptions(rounds: 1)) { _ in }
        #expect(strategy.inner.compared == [0], "the settled scope is not compared again")
        #expect(result.tables.map(\.status) == [.different, .equal, .notCompared])
        #expect(result.stoppedEarly, "the unsettled scope after the spent budget stops the check")
    }
}
