import Foundation
import SyncCore

/// What `POST /v1/cutovers` asks for: every source (or `sources`), or a plan.
public struct CutoverRequest: Sendable, Codable, Equatable {
    public var sources: [String]?
    public var plan: CutoverPlan?
    /// Changes nothing on any server: no pause, no reconcile (only the writes polling already makes).
    public var drill: Bool
    /// The whole run's limit; past it the run is cancelled and reported as an error.
    public var timeoutSeconds: Double?

    public init(sources: [String]? = nil, plan: CutoverPlan? = nil, drill: Bool = false, timeoutSeconds: Double? = nil) {
        self.sources = sources
        self.plan = plan
        self.drill = drill
        self.timeoutSeconds = timeoutSeconds
    }

    enum CodingKeys: String, CodingKey { case sources, plan, drill, timeoutSeconds }

    /// Every field may be left out: `{}` is a cutover of every source.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sources = try container.decodeIfPresent([String].self, forKey: .sources)
        plan = try container.decodeIfPresent(CutoverPlan.self, forKey: .plan)
        drill = try container.decodeIfPresent(Bool.self, forKey: .drill) ?? false
        timeoutSeconds = try container.decodeIfPresent(Double.self, forKey: .timeoutSeconds)
    }
}

/// How a run, or one source of it, ended.
public enum CutoverStatus: String, Sendable, Codable {
    case running, pass, degraded, fail, cancelled, error
    /// A source that was not run (an earlier failure with on_failure: abort).
    case skipped

    public var finished: Bool { self != .running }
}

public enum CutoverPhase: String, Sendable, Codable {
    case waiting, exposure, drain, verify, gate, pause, done
}

/// One phase of one source: when it ran, how long, and how it ended.
public struct PhaseRecord: Sendable, Codable, Equatable {
    public var phase: CutoverPhase
    public var attempt: Int
    public var startedAt: Date
    public var seconds: Double
    /// ok, failed, or skipped.
    public var outcome: String
    public var message: String?
}

/// What losing the primary at the start would have cost: the lag then, and the worst lag in the
/// window on record (the RPO exposure over that window).
public struct Exposure: Sendable, Codable, Equatable {
    public var state: SyncState?
    public var lagSeconds: Double?
    public var lagVolume: Int64?
    public var unit: VolumeUnit?
    public var worstLagSeconds: Double?
    public var worstLagAt: Date?
    /// How far back the record reaches: samples in memory, and lag summaries from the journal.
    public var windowSeconds: Double
    public var samples: Int
    public var journaledSummaries: Int
    /// Samples in the window whose lag was unknown; when > 0 the worst lag is a lower bound.
    public var samplesWithoutLag: Int
    public var note: String?
}

/// One source's part of a run.
public struct SourceRun: Sendable, Codable {
    public var source: String
    public var kind: SourceKind
    public var stage: String
    public var step: CutoverStep
    public var status: CutoverStatus
    public var phase: CutoverPhase
    public var attempts: Int
    public var phases: [PhaseRecord]
    public var exposure: Exposure?
    public var drain: DrainResult?
    /// The check the gate judged, with a sample of its differences.
    public var check: CheckResult?
    public var progress: CheckProgress?
    public var gateReasons: [String]
    /// Why the source did not pass, in one line.
    public var reason: String?
    public var paused: Bool
    public var seconds: Double
}

/// One cutover run: the report, as the API serves it, as `syncctl` writes it, and as its digest
/// is taken (canonical JSON without `report_sha256`).
public struct CutoverRun: Sendable, Codable {
    public var id: String
    public var drill: Bool
    public var actor: String
    /// SHA-256 of the sources' effective settings (no secrets), so a report names the config it ran with.
    public var configDigest: String
    public var plan: CutoverPlan
    public var status: CutoverStatus
    public var reason: String?
    public var startedAt: Date
    public var finishedAt: Date?
    /// From the start to the verdict.
    public var secondsToVerdict: Double?
    public var sources: [SourceRun]
    /// Set once the run finished and its report was journaled.
    public var reportSha256: String?

    /// The report as its digest sees it.
    public var digestable: JSONValue {
        get throws {
            var copy = self
            copy.reportSha256 = nil
            guard case var .object(fields) = try JSONValue.from(copy) else { return .null }
            fields["report_sha256"] = nil
            return .object(fields)
        }
    }

    /// The digest of a report read back from a file: its own `report_sha256` left out.
    public static func digest(ofReport value: JSONValue) -> String {
        guard case var .object(fields) = value else { return CanonicalJSON.sha256(value) }
        fields["report_sha256"] = nil
        return CanonicalJSON.sha256(.object(fields))
    }

    /// Exit codes, like the gate's: 0 pass or degraded, 1 fail, 2 cancelled or error.
    public var exitCode: Int32 {
        switch status {
        case .pass, .degraded: 0
        case .fail: 1
        default: 2
        }
    }
}

/// A cutover request that cannot run as asked (a plan that lowers a threshold, a source without a
/// check): 400, naming what is wrong.
public struct CutoverRequestError: OperationError {
    public var message: String
    public var statusCode: Int { 400 }
    public var code: String { "invalid_cutover" }
    public var remedy: String?
    public var description: String { message }

    public init(_ message: String, remedy: String? = nil) {
        self.message = message
        self.remedy = remedy
    }
}
