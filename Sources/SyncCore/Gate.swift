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
}

/// The part of a consistency check's result the gate needs; shared by every source kind.
public struct CheckSummary: Sendable, Codable, Equatable {
    public var finishedAt: Date
    /// Strict ratio: 1 - differing / max(primary, 1). Nil when the check errored.
    public var ratio: Double?
    /// Count-only ratio: 1 - |primary - dr| / primary. Reported, never gated on.
    public var countRatio: Double?
    public var error: String?

    public init(finishedAt: Date, ratio: Double?, countRatio: Double?, error: String? = nil) {
        self.finishedAt = finishedAt
        self.ratio = ratio
        self.countRatio = countRatio
        self.error = error
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
            verdict.ratio = check.ratio
            verdict.countRatio = check.countRatio
            let age = max(0, now.timeIntervalSince(check.finishedAt))
            verdict.checkAgeSeconds = age
            if let error = check.error {
                reasons.append("latest consistency check failed: \(error)")
            } else if let ratio = check.ratio {
                if ratio < policy.ratioThreshold {
                    reasons.append("consistency ratio \(formatRatio(ratio)) is below the threshold \(formatRatio(policy.ratioThreshold))")
                }
            } else {
                reasons.append("latest consistency check has no ratio")
            }
            if age > policy.checkMaxAgeSeconds {
                reasons.append("latest consistency check is \(format(age)) s old (max age \(format(policy.checkMaxAgeSeconds)) s)")
            }
        } else {
            reasons.append("no consistency check has run")
        }

        verdict.reasons = reasons
        verdict.status = reasons.isEmpty ? .pass : .fail
        return verdict
    }

    /// Overall pass only when at least one source was judged and every one passed.
    public static func combine(_ verdicts: [SourceVerdict], at now: Date) -> GateVerdict {
        let pass = !verdicts.isEmpty && verdicts.allSatisfy { $0.status == .pass }
        return GateVerdict(status: pass ? .pass : .fail, evaluatedAt: now, sources: verdicts)
    }

    static func format(_ seconds: Double) -> String {
        String(format: "%.1f", seconds)
    }

    /// Enough digits that 0.99999 and 0.999989 never print the same.
    static func formatRatio(_ ratio: Double) -> String {
        String(format: "%.7f", ratio)
    }
}
