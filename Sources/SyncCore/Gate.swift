import Foundation

/// What one source must satisfy for a cutover to go ahead (SPEC §4).
public struct GatePolicy: Sendable, Codable, Equatable {
    public var lagBudgetSeconds: Double
    public var checkMaxAgeSeconds: Double
    public var ratioThreshold: Double
    /// A sample older than this is no evidence of the present: the gate fails.
    public var sampleMaxAgeSeconds: Double

    public init(lagBudgetSeconds: Double, checkMaxAgeSeconds: Double, ratioThreshold: Double, sampleMaxAgeSeconds: Double) {
        self.lagBudgetSeconds = lagBudgetSeconds
        self.checkMaxAgeSeconds = checkMaxAgeSeconds
        self.ratioThreshold = ratioThreshold
        self.sampleMaxAgeSeconds = sampleMaxAgeSeconds
    }

    public static let defaultRatioThreshold = 0.99999

    /// The freshness limit: the next poll starts within one interval and answers (or is declared
    /// unreachable) within `poll_timeout`, so an older sample means the poll loop itself is stuck.
    public static func sampleMaxAge(pollInterval: Double, pollTimeout: Double) -> Double {
        pollInterval + pollTimeout
    }
}

/// One scope (a table, database, topic or bucket) as its latest check left it.
public struct ScopeSummary: Sendable, Codable, Equatable {
    public var scope: String
    public var finishedAt: Date
    /// Nil when the scope was not compared to the end (`error` says why).
    public var ratio: Double?
    public var countRatio: Double?
    /// Why the scope does not count as checked: its error, or "not compared to the end".
    public var error: String?

    public init(scope: String, finishedAt: Date, ratio: Double?, countRatio: Double?, error: String? = nil) {
        self.scope = scope
        self.finishedAt = finishedAt
        self.ratio = ratio
        self.countRatio = countRatio
        self.error = error
    }
}

/// The part of a consistency check's result the gate needs; shared by every source kind. Checks of
/// a few scopes (`--table`) are merged into the latest full one (`merging`), so the gate judges a
/// source by every scope it is configured to check, never by the last check alone.
public struct CheckSummary: Sendable, Codable, Equatable {
    /// The oldest scope's finish time: the age the gate judges.
    public var finishedAt: Date
    /// Strict ratio: 1 - differing / max(primary, 1); the lowest of the scopes'. Nil when the check errored.
    public var ratio: Double?
    /// Count-only ratio: 1 - |primary - dr| / primary. Reported, never gated on.
    public var countRatio: Double?
    public var error: String?
    /// Per scope; nil in summaries written before scopes were tracked (judged as a whole).
    public var scopes: [ScopeSummary]?
    /// True when the latest check covered only some scopes (`--table`).
    public var partial: Bool?
    /// True when a full check compared every configured scope; false after a full check that stopped
    /// early or when only partial checks have run: the scopes they did not compare are unchecked.
    public var complete: Bool?
    /// Differences outside the ratio that fail the gate by themselves (a DR sequence behind).
    public var blockers: [String]?
    /// The servers the check compared where roles can move; the gate fails while the source's
    /// current stamp differs (a failover since the check).
    public var topologyStamp: String?

    public init(finishedAt: Date, ratio: Double?, countRatio: Double?, error: String? = nil,
                scopes: [ScopeSummary]? = nil, partial: Bool? = nil, complete: Bool? = nil) {
        self.finishedAt = finishedAt
        self.ratio = ratio
        self.countRatio = countRatio
        self.error = error
        self.scopes = scopes
        self.partial = partial
        self.complete = complete
    }

    /// This summary updated by a newer check: a full check replaces everything; a partial one
    /// replaces only the scopes it covered and never makes an incomplete record complete. An error
    /// of a partial check stays until a full check runs (it cannot say which scopes it spoiled).
    public func merging(_ newer: CheckSummary) -> CheckSummary {
        guard newer.partial == true else { return newer }
        var byScope: [ByteKey: ScopeSummary] = [:]
        var order: [ByteKey] = []
        for scope in (scopes ?? []) + (newer.scopes ?? []) {
            let id = scope.scope.byteKey
            if byScope[id] == nil { order.append(id) }
            byScope[id] = scope
        }
        let merged = order.compactMap { byScope[$0] }
        var combined = CheckSummary.combining(merged, error: newer.error ?? error, partial: true,
                                              complete: complete ?? false, fallback: newer.finishedAt)
        // A partial check does not compare sequences: what the last full check found stands.
        combined.blockers = blockers
        // Scopes checked against different servers do not add up to a check of either.
        combined.topologyStamp = newer.topologyStamp == topologyStamp ? topologyStamp
            : "scopes checked against different servers (\(topologyStamp ?? "unknown") and \(newer.topologyStamp ?? "unknown"))"
        return combined
    }

    /// The source-level view of a set of scopes: the lowest ratio, the oldest finish time.
    public static func combining(_ scopes: [ScopeSummary], error: String?, partial: Bool, complete: Bool, fallback: Date) -> CheckSummary {
        let ratios = scopes.map(\.ratio)
        let ratio: Double? = error == nil && !ratios.contains(where: { $0 == nil }) ? ratios.compactMap { $0 }.min() ?? 1 : nil
        let countRatio = scopes.compactMap(\.countRatio).min()
        return CheckSummary(finishedAt: scopes.map(\.finishedAt).min() ?? fallback, ratio: ratio, countRatio: countRatio ?? (ratio == nil ? nil : 1),
                            error: error, scopes: scopes, partial: partial, complete: complete)
    }
}

public enum GateStatus: String, Sendable, Codable {
    case pass
    case fail
}

public struct SourceVerdict: Sendable, Codable, Equatable {
    public var source: String
    public var status: GateStatus
    public var state: SyncState?
    public var lagSeconds: Double?
    public var lagBudgetSeconds: Double?
    public var lagVolume: Int64?
    public var unit: VolumeUnit?
    public var ratio: Double?
    public var countRatio: Double?
    public var ratioThreshold: Double?
    public var checkAgeSeconds: Double?
    public var sampleAgeSeconds: Double?
    /// Every reason the source fails, in plain words; empty on pass.
    public var reasons: [String]

    public init(source: String, status: GateStatus, reasons: [String]) {
        self.source = source
        self.status = status
        self.reasons = reasons
    }
}

public struct GateVerdict: Sendable, Codable, Equatable {
    public var status: GateStatus
    public var evaluatedAt: Date
    public var sources: [SourceVerdict]

    public init(status: GateStatus, evaluatedAt: Date, sources: [SourceVerdict]) {
        self.status = status
        self.evaluatedAt = evaluatedAt
        self.sources = sources
    }
}

/// The cutover gate: pure functions of policy, latest sample and latest check. Fails closed.
public enum Gate {
    public static func evaluate(
        source: String, policy: GatePolicy, sample: Sample?, check: CheckSummary?, now: Date
    ) -> SourceVerdict {
        var verdict = SourceVerdict(source: source, status: .fail, reasons: [])
        verdict.lagBudgetSeconds = policy.lagBudgetSeconds
        verdict.ratioThreshold = policy.ratioThreshold
        var reasons: [String] = []

        if let sample {
            verdict.state = sample.state
            verdict.lagSeconds = sample.lagSeconds
            verdict.lagVolume = sample.lagVolume
            verdict.unit = sample.unit
            let age = max(0, now.timeIntervalSince(sample.time))
            verdict.sampleAgeSeconds = age
            if age > policy.sampleMaxAgeSeconds {
                reasons.append("latest sample is \(format(age)) s old (limit \(format(policy.sampleMaxAgeSeconds)) s): the poll loop is stuck or slow")
            }
            switch sample.state {
            case .unreachable, .broken, .paused:
                let why = sample.errors.isEmpty ? "" : ": " + sample.errors.joined(separator: "; ")
                reasons.append("source is \(sample.state.rawValue)\(why)")
            case .inSync, .syncing, .lagging:
                break
            }
            if let lag = sample.lagSeconds {
                if lag > policy.lagBudgetSeconds {
                    reasons.append("lag \(format(lag)) s exceeds the budget of \(format(policy.lagBudgetSeconds)) s")
                }
            } else if sample.state != .unreachable {
                reasons.append("lag is unknown")
            }
        } else {
            reasons.append("no sample has been taken yet")
        }

        if let check {
            reasons += (check.blockers ?? []).map { "latest consistency check: \($0)" }
            if let current = sample?.topologyStamp, check.topologyStamp != current {
                reasons.append("the latest consistency check compared \(check.topologyStamp ?? "servers whose roles were not recorded"), but now \(current): the roles moved (a failover) since, so run a new check")
            }
            verdict.ratio = check.ratio
            verdict.countRatio = check.countRatio
            let age = max(0, now.timeIntervalSince(check.finishedAt))
            verdict.checkAgeSeconds = age
            if let scopes = check.scopes {
                reasons += scopeReasons(check, scopes, policy: policy, now: now)
            } else if let error = check.error {
                reasons.append("latest consistency check failed: \(error)")
            } else if let ratio = check.ratio {
                if ratio < policy.ratioThreshold {
                    reasons.append("consistency ratio \(formatRatio(ratio)) is below the threshold \(formatRatio(policy.ratioThreshold))")
                }
            } else {
                reasons.append("latest consistency check has no ratio")
            }
            if check.scopes == nil, age > policy.checkMaxAgeSeconds {
                reasons.append("latest consistency check is \(format(age)) s old (max age \(format(policy.checkMaxAgeSeconds)) s)")
            }
        } else {
            reasons.append("no consistency check has run")
        }

        verdict.reasons = reasons
        verdict.status = reasons.isEmpty ? .pass : .fail
        return verdict
    }

    /// Every scope must have been compared to the end, recently enough, at or above the threshold.
    static func scopeReasons(_ check: CheckSummary, _ scopes: [ScopeSummary], policy: GatePolicy, now: Date) -> [String] {
        var reasons: [String] = []
        if let error = check.error { reasons.append("latest consistency check failed: \(error)") }
        if check.complete != true {
            reasons.append(check.partial == true
                ? "not every configured scope has been checked: only partial checks (--table) ran since the last complete full check (run verify without --table)"
                : "the latest full check stopped early: scopes it did not compare are unchecked (run verify with --full-diff, or after repairing)")
        }
        for scope in scopes {
            let name = DisplayText.escape(scope.scope)
            if let error = scope.error {
                reasons.append("\(name): \(error)")
            } else if let ratio = scope.ratio {
                if ratio < policy.ratioThreshold {
                    reasons.append("\(name): consistency ratio \(formatRatio(ratio)) is below the threshold \(formatRatio(policy.ratioThreshold))")
                }
            } else {
                reasons.append("\(name): no ratio")
            }
            let age = max(0, now.timeIntervalSince(scope.finishedAt))
            if age > policy.checkMaxAgeSeconds {
                reasons.append("\(name): latest consistency check is \(format(age)) s old (max age \(format(policy.checkMaxAgeSeconds)) s)")
            }
        }
        return reasons
    }

    /// Overall pass only when at least one source was judged and every one passed.
    public static func combine(_ verdicts: [SourceVerdict], at now: Date) -> GateVerdict {
        let pass = !verdicts.isEmpty && verdicts.allSatisfy { $0.status == .pass }
        return GateVerdict(status: pass ? .pass : .fail, evaluatedAt: now, sources: verdicts)
    }

    public static func format(_ seconds: Double) -> String {
        String(format: "%.1f", seconds)
    }

    /// Enough digits that 0.99999 and 0.999989 never print the same.
    static func formatRatio(_ ratio: Double) -> String {
        String(format: "%.7f", ratio)
    }
}
