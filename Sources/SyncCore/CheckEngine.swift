import Foundation

/// What one kind of source contributes to a consistency check. The engine (`CheckEngine.run`)
/// owns the shape every check shares: scopes in order, the budget of differences a pass allows
/// and the early stop once it is spent, re-check rounds after catch-up waits, progress, notes and
/// the result. A strategy knows how to compare its scopes (tables, databases, topics, buckets);
/// scopes are addressed by their index in the list `prepare` returns.
public protocol CheckStrategy: Sendable {
    var words: SourceWords { get }
    /// Opens what the check needs and lists the scopes to compare, in order (the `--table`
    /// selection applied), by their labels. Scopes that cannot be compared (no primary key, a
    /// topic missing on the DR side) may be listed too: their `compare` does nothing.
    mutating func prepare(_ reporter: CheckReporter) async throws -> [String]
    /// What the primary holds over every scope: the budget of differences comes from it.
    var primaryItems: Int64 { get }
    /// A scope `prepare` already judged in full (equal whole-table digests, say): round 1 has
    /// nothing left to compare there, so a spent budget does not stop the check before it.
    func isSettled(_ scope: Int) -> Bool
    /// The rounds the result reports, given the engine's; a strategy that re-reads its suspects
    /// within `compare` (Redis, per chunk of keys) says how many it allowed.
    func roundsRun(_ engineRounds: Int) -> Int
    /// Round 1 of one scope. With a budget it may stop once more items differ than that; returns
    /// true when it stopped (a pass is impossible).
    mutating func compare(_ scope: Int, budget: Int64?, reporter: CheckReporter) async throws -> Bool
    /// The differences of a compared scope that count against the budget.
    func budgetUsed(_ scope: Int) -> Int64
    /// Whether a compared scope holds differences a later round could still settle.
    func needsRecheck(_ scope: Int) -> Bool
    /// Waits until the DR side holds what the primary held when the check started, before a
    /// re-check round; says when waiting cannot help (paused, stalled).
    mutating func catchUp(before round: Int, timeout: Duration) async throws -> CatchUpOutcome
    /// Re-reads what still differed in one scope; keeps only what persists.
    mutating func recheck(_ scope: Int, round: Int, reporter: CheckReporter) async throws
    /// One scope's verdict, listing at most `limit` differences. `compared` is false for a scope
    /// the check stopped before; nil then reports it as not compared.
    func report(_ scope: Int, compared: Bool, rounds: Int, limit: Int) -> ScopeReport?
    /// The source's own notes on how it compared.
    func notes(rounds: Int) -> [String]
    /// Releases connections; called once, after success or failure.
    mutating func close() async
}

extension CheckStrategy {
    public func isSettled(_ scope: Int) -> Bool { false }
    public func roundsRun(_ engineRounds: Int) -> Int { engineRounds }
}

/// One scope's verdict.
public struct ScopeReport: Sendable {
    public var result: TableCheckResult
    /// The differences to list, in order; at most the limit `report` was given.
    public var diffs: [Diff]
    /// Every differing item the scope holds (more than `diffs` when not all are listed).
    public var differing: Int64
    /// The scope's comparison stopped part way: its totals are lower bounds.
    public var stoppedEarly: Bool

    public init(result: TableCheckResult, diffs: [Diff], differing: Int64, stoppedEarly: Bool = false) {
        self.result = result
        self.diffs = diffs
        self.differing = differing
        self.stoppedEarly = stoppedEarly
    }
}

/// Progress as a strategy reports it: items compared, added to the check's running total.
public struct CheckReporter: Sendable {
    private let emit: @Sendable (CheckProgress) -> Void
    private let total: RunningTotal
    public internal(set) var scopesDone = 0
    public internal(set) var scopes = 0
    public internal(set) var scope: String?
    public internal(set) var round = 1

    init(_ emit: @escaping @Sendable (CheckProgress) -> Void) {
        self.emit = emit
        total = RunningTotal()
    }

    /// Adds `items` compared (either side) and reports.
    public func compared(_ items: Int64) {
        emit(CheckProgress(tablesDone: scopesDone, tablesTotal: scopes, currentTable: scope, round: round, rowsCompared: total.add(items)))
    }

    /// Reports where the check is without adding to the count.
    public func announce() { compared(0) }

    /// The same reporter, at a strategy's own finer position (a partition of a topic, say).
    public func at(_ scope: String) -> CheckReporter {
        var copy = self
        copy.scope = scope
        return copy
    }
}

public enum CheckEngine {
    public static func run<Strategy: CheckStrategy>(_ strategy: inout Strategy, source: String, threshold: Double, options: CheckOptions,
                                                    progress: @escaping @Sendable (CheckProgress) -> Void) async throws -> CheckResult {
        do {
            let result = try await check(&strategy, source: source, threshold: threshold, options: options, progress: progress)
            await strategy.close()
            return result
        } catch {
            await strategy.close()
            throw error
        }
    }

    private static func check<Strategy: CheckStrategy>(_ strategy: inout Strategy, source: String, threshold: Double, options: CheckOptions,
                                                          progress: @escaping @Sendable (CheckProgress) -> Void) async throws -> CheckResult {
        let started = Date()
        var reporter = CheckReporter(progress)
        let labels = try await strategy.prepare(reporter)
        reporter.scopes = labels.count
        reporter.announce()
        let allowed = Ratio.allowedDifferences(primary: strategy.primaryItems, threshold: threshold)

        // Round 1, scope by scope, while a pass is still possible (or every difference is wanted).
        var reached = 0
        var stopped = false
        for index in labels.indices {
            if strategy.isSettled(index) {
                reached = index + 1
                continue
            }
            let used = (0..<index).reduce(Int64(0)) { $0 + strategy.budgetUsed($1) }
            if !options.fullDiff, used > allowed {
                stopped = true
                break
            }
            reporter.scopesDone = index
            reporter.scope = labels[index]
            reporter.announce()
            reached = index + 1
            if try await strategy.compare(index, budget: options.fullDiff ? nil : allowed - used, reporter: reporter) {
                stopped = true
                break
            }
        }

        // Later rounds: what differed is read again once the DR side caught up, so writes still in
        // flight are not reported. A check that stopped early has its answer already.
        var rounds = 1
        var roundNotes: [String] = []
        reporter.scopesDone = labels.count
        while rounds < max(1, options.rounds), !stopped, (0..<reached).contains(where: { strategy.needsRecheck($0) }) {
            let outcome = try await strategy.catchUp(before: rounds + 1, timeout: options.catchUpTimeout)
            if case let .cannotProgress(why) = outcome {
                // Waiting longer, or reading again, cannot change the answer.
                roundNotes.append("re-check round \(rounds + 1) skipped: \(why); the differences are those of round \(rounds)")
                break
            }
            if outcome == .timedOut {
                roundNotes.append("re-check round \(rounds + 1): the DR side was still behind after the whole catch-up wait (\(Gate.format(options.catchUpTimeout.seconds)) s); what arrived meanwhile was re-read")
            }
            rounds += 1
            reporter.round = rounds
            for index in 0..<reached where strategy.needsRecheck(index) {
                reporter.scope = labels[index]
                try await strategy.recheck(index, round: rounds, reporter: reporter)
            }
        }

        var tables: [TableCheckResult] = []
        var diffs: [Diff] = []
        var differing: Int64 = 0
        var stoppedEarly = stopped
        for index in labels.indices {
            guard let report = strategy.report(index, compared: index < reached, rounds: rounds, limit: max(0, options.maxDiffs - diffs.count)) else {
                tables.append(TableCheckResult(table: labels[index], status: .notCompared,
                                               reason: "not compared: the check stopped early once a pass was impossible (run with --full-diff to compare every \(strategy.words.scope))"))
                continue
            }
            tables.append(report.result)
            diffs += report.diffs.prefix(max(0, options.maxDiffs - diffs.count))
            differing += report.differing
            stoppedEarly = stoppedEarly || report.stoppedEarly
        }
        return CheckResult(source: source, threshold: threshold, tables: tables, diffs: diffs,
                           diffsTruncated: differing > Int64(diffs.count) || stoppedEarly, rounds: strategy.roundsRun(rounds), stoppedEarly: stoppedEarly,
                           startedAt: started, finishedAt: Date(), notes: strategy.notes(rounds: rounds) + roundNotes, words: strategy.words)
    }
}
