import Foundation

public enum DiffKind: String, Sendable, Codable, Equatable {
    /// On the primary, not on the DR side.
    case missing
    /// On the DR side, not on the primary.
    case extra
    /// On both, with different content.
    case changed
    /// A sequence the DR side is behind on (not a unit: it fails the gate by itself, outside the ratio).
    case sequence
    /// A table definition that differs (a column, an index, a constraint, an enum label, a trigger).
    case schema
    /// A consumer group whose committed offset on the DR cluster would skip or re-read records.
    case consumerGroup = "consumer_group"

    /// Rows, keys, records or objects: what the ratio counts.
    public var isUnit: Bool { self == .missing || self == .extra || self == .changed }
}

/// One differing unit. `key` is the unit's identity as a JSON object (a row's primary key,
/// a Redis key, a Kafka offset, an object key).
public struct Diff: Sendable, Codable, Equatable {
    public var table: String
    public var key: JSONValue
    public var kind: DiffKind
    /// What differs, when the source can say more than the kind (e.g. "type: hash vs string", "ttl").
    public var detail: String?

    public init(table: String, key: JSONValue, kind: DiffKind, detail: String? = nil) {
        self.table = table
        self.key = key
        self.kind = kind
        self.detail = detail
    }
}

public struct CheckOptions: Sendable, Equatable {
    /// Restrict to these tables (schema.table, or table in the configured schemas); nil = all.
    public var tables: [String]?
    /// How many differing keys to list; totals stay exact.
    public var maxDiffs: Int
    /// Rounds: differing segments are re-checked after the DR side caught up, so only what persists is reported.
    public var rounds: Int
    /// Keep going after a pass became impossible, to list every difference.
    public var fullDiff: Bool
    /// How long to wait for the DR side to catch up between rounds.
    public var catchUpTimeout: Duration

    public init(tables: [String]? = nil, maxDiffs: Int = 1000, rounds: Int = 3, fullDiff: Bool = false,
                catchUpTimeout: Duration = .seconds(60)) {
        self.tables = tables
        self.maxDiffs = maxDiffs
        self.rounds = rounds
        self.fullDiff = fullDiff
        self.catchUpTimeout = catchUpTimeout
    }
}

public struct CheckProgress: Sendable, Codable, Equatable {
    public var tablesDone: Int
    public var tablesTotal: Int
    public var currentTable: String?
    public var round: Int
    public var rowsCompared: Int64

    public init(tablesDone: Int = 0, tablesTotal: Int = 0, currentTable: String? = nil, round: Int = 1, rowsCompared: Int64 = 0) {
        self.tablesDone = tablesDone
        self.tablesTotal = tablesTotal
        self.currentTable = currentTable
        self.round = round
        self.rowsCompared = rowsCompared
    }
}

public enum TableCheckStatus: String, Sendable, Codable {
    case equal, different, skipped, error
    /// Left out because the check stopped early: unchecked, so the gate does not pass on it.
    case notCompared = "not_compared"

    /// Whether the scope's counts are in the totals.
    var counted: Bool { self != .skipped && self != .notCompared }
}

/// How a source names what it checks, for text output: PostgreSQL's tables and rows, Redis's
/// databases and keys, Kafka's topics and records, S3's buckets and objects. JSON field names stay
/// the same for every source (pipelines parse them); only the words a person reads change.
public struct SourceWords: Sendable, Codable, Equatable {
    public var scope: String
    public var scopes: String
    public var item: String
    public var items: String
    /// What a scope is compared in (segments, batches, chunks, listing pages).
    public var segments: String

    public init(scope: String, scopes: String, item: String, items: String, segments: String) {
        self.scope = scope
        self.scopes = scopes
        self.item = item
        self.items = items
        self.segments = segments
    }

    /// The words of results that do not carry their own (written before words existed).
    public static let tables = SourceWords(scope: "table", scopes: "tables", item: "row", items: "rows", segments: "segments")
}

public struct TableCheckResult: Sendable, Codable, Equatable {
    public var table: String
    public var status: TableCheckStatus
    public var reason: String?
    public var primaryRows: Int64
    public var drRows: Int64
    public var missing: Int64
    public var extra: Int64
    public var changed: Int64
    public var ratio: Double
    public var countRatio: Double
    public var segmentsCompared: Int
    public var durationSeconds: Double

    public init(table: String, status: TableCheckStatus, reason: String? = nil, primaryRows: Int64 = 0, drRows: Int64 = 0,
                missing: Int64 = 0, extra: Int64 = 0, changed: Int64 = 0, segmentsCompared: Int = 0, durationSeconds: Double = 0) {
        self.table = table
        self.status = status
        self.reason = reason
        self.primaryRows = primaryRows
        self.drRows = drRows
        self.missing = missing
        self.extra = extra
        self.changed = changed
        self.ratio = Ratio.strict(differing: missing + extra + changed, primary: primaryRows)
        self.countRatio = Ratio.countOnly(primary: primaryRows, dr: drRows)
        self.segmentsCompared = segmentsCompared
        self.durationSeconds = durationSeconds
    }
}

/// A consistency check's result; the same shape for every source kind.
public struct CheckResult: Sendable, Codable, Equatable {
    public var source: String
    public var status: GateStatus
    public var threshold: Double
    /// Strict: 1 - (missing + extra + changed) / max(primary, 1).
    public var ratio: Double
    /// Count-only (the seed formula, reported, never gated on): 1 - |primary - dr| / primary.
    public var countRatio: Double
    public var primaryRows: Int64
    public var drRows: Int64
    public var missing: Int64
    public var extra: Int64
    public var changed: Int64
    public var diffs: [Diff]
    /// True when more keys differ than `diffs` lists.
    public var diffsTruncated: Bool
    public var tables: [TableCheckResult]
    public var rounds: Int
    /// True when the check stopped once a pass was impossible: totals are then lower bounds.
    public var stoppedEarly: Bool
    public var startedAt: Date
    public var finishedAt: Date
    public var durationSeconds: Double
    public var rowsPerSecond: Double
    /// What the operator should know about how the result was reached.
    public var notes: [String]
    public var error: String?
    /// True when the check covered only the scopes asked for (`--table`): the gate keeps the other
    /// scopes' latest results. Nil (absent) in results written before scopes were tracked.
    public var partial: Bool?
    /// The source's own words for scopes and items (text output only).
    public var words: SourceWords?
    /// Differences that are not units (a sequence behind) and fail the gate by themselves,
    /// whatever the ratio; nil when there are none.
    public var blockers: [String]?
    /// The servers the check compared where roles can move (see `Sample.topologyStamp`).
    public var topologyStamp: String?

    public init(source: String, threshold: Double, tables: [TableCheckResult], diffs: [Diff], diffsTruncated: Bool,
                rounds: Int, stoppedEarly: Bool, startedAt: Date, finishedAt: Date, notes: [String] = [], error: String? = nil,
                words: SourceWords? = nil) {
        self.notes = notes
        self.words = words
        self.source = source
        self.threshold = threshold
        self.tables = tables
        self.diffs = diffs
        self.diffsTruncated = diffsTruncated
        self.rounds = rounds
        self.stoppedEarly = stoppedEarly
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.error = error
        let compared = tables.filter { $0.status.counted }
        primaryRows = compared.reduce(0) { $0 + $1.primaryRows }
        drRows = compared.reduce(0) { $0 + $1.drRows }
        missing = compared.reduce(0) { $0 + $1.missing }
        extra = compared.reduce(0) { $0 + $1.extra }
        changed = compared.reduce(0) { $0 + $1.changed }
        ratio = Ratio.strict(differing: missing + extra + changed, primary: primaryRows)
        countRatio = Ratio.countOnly(primary: primaryRows, dr: drRows)
        durationSeconds = max(0, finishedAt.timeIntervalSince(startedAt))
        rowsPerSecond = durationSeconds > 0 ? Double(primaryRows + drRows) / durationSeconds : 0
        let failedTable = tables.contains { $0.status == .error }
        // As the gate judges it: every scope at or above the threshold, not just the total.
        let scopeBelow = tables.contains { $0.status.counted && $0.ratio < threshold }
        status = error == nil && !failedTable && !scopeBelow && ratio >= threshold ? .pass : .fail
    }

    /// What the gate keeps of it: each scope (skipped ones are not compared and not judged). A scope
    /// left unequal when the check stopped early has only lower bounds, so it does not count as checked.
    public var summary: CheckSummary {
        let scopes = tables.filter { $0.status != .skipped }.map { table -> ScopeSummary in
            var problem: String?
            if table.status == .error {
                problem = "check failed: \(table.reason ?? "error")"
            } else if table.status == .notCompared {
                problem = "not compared (the check stopped early once a pass was impossible)"
            } else if stoppedEarly, table.status == .different {
                problem = "not compared to the end (the check stopped early once a pass was impossible)"
            }
            return ScopeSummary(scope: table.table, finishedAt: finishedAt, ratio: problem == nil ? table.ratio : nil,
                                countRatio: table.countRatio, error: problem)
        }
        let isPartial = partial == true
        var summary = CheckSummary.combining(scopes, error: error, partial: isPartial, complete: !isPartial && !stoppedEarly, fallback: finishedAt)
        summary.blockers = blockers
        summary.topologyStamp = topologyStamp
        return summary
    }

    /// Adds differences outside the ratio (sequences): listed with the diffs, and each reason fails
    /// the check and the gate.
    public mutating func addBlocking(_ found: [Diff], reasons: [String]) {
        guard !reasons.isEmpty || !found.isEmpty else { return }
        diffs += found
        blockers = (blockers ?? []) + reasons
        status = .fail
    }

    /// Marks the whole check failed with `reason` (its comparison cannot be trusted).
    public mutating func fail(_ reason: String) {
        error = error.map { "\($0); \(reason)" } ?? reason
        status = .fail
    }

    /// The differences that are units (rows, keys, records, objects), without sequences.
    public var unitDiffs: [Diff] { diffs.filter(\.kind.isUnit) }
}

public enum Ratio {
    /// 1 - differing / max(primary, 1), never below 0.
    public static func strict(differing: Int64, primary: Int64) -> Double {
        max(0, 1 - Double(differing) / Double(max(primary, 1)))
    }

    /// 1 - |primary - dr| / primary; an empty primary is 1 when the DR side is empty too, else 0.
    public static func countOnly(primary: Int64, dr: Int64) -> Double {
        guard primary > 0 else { return dr == 0 ? 1 : 0 }
        return max(0, 1 - Double(abs(primary - dr)) / Double(primary))
    }

    /// The most differing units a check may find and still pass.
    public static func allowedDifferences(primary: Int64, threshold: Double) -> Int64 {
        Int64(((1 - threshold) * Double(max(primary, 1)) + 1e-9).rounded(.down))
    }
}

/// A thread-safe running total, for progress reports from concurrent readers.
public final class RunningTotal: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int64 = 0

    public init() {}

    /// Adds `amount` and returns the new total.
    public func add(_ amount: Int64) -> Int64 {
        lock.withLock {
            value += amount
            return value
        }
    }
}
