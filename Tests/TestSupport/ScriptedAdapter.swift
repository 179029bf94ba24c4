import Foundation
import SyncCore

/// A scripted adapter for the tests of the manager and the API: they are about bookkeeping, routing
/// and the poll loop, not about a data store (adapters are tested against real servers).
public actor ScriptedAdapter: SourceAdapter {
    public nonisolated let name: String
    public nonisolated let kind: SourceKind = ScriptedAdapter.scriptedKind
    public nonisolated let volumeUnit: VolumeUnit = .bytes
    /// A kind no adapter module declares: the manager and the API must not care which one it is.
    public static let scriptedKind = SourceKind(rawValue: "scripted")
    public private(set) var state: SyncState = .inSync
    public private(set) var pauses = 0
    /// How many polls have started, and how many are still waiting for their answer.
    public private(set) var samplesStarted = 0
    public private(set) var samplesRunning = 0
    /// How long a poll takes to answer (a hung server when longer than poll_timeout).
    public private(set) var sampleDelay: Duration = .zero
    /// The lag each poll reports while reachable.
    public private(set) var lagSeconds: Double = 0.5
    /// The scopes a check reports; nil makes it fail as unsupported.
    public private(set) var checkScopes: [TableCheckResult]?
    /// How long a check runs (it ends at once when cancelled).
    public private(set) var checkDuration: Duration = .zero

    /// Checks running now, and the most that ever ran at once.
    public private(set) var checksRunning = 0
    public private(set) var mostChecksAtOnce = 0
    public private(set) var checksStarted = 0

    public init(name: String) { self.name = name }

    public private(set) var operations: Set<SourceOperation> = [.pause, .resume, .drain, .fullSync, .check]
    public func capabilities() async -> Set<SourceOperation> { operations }
    public func set(capabilities: Set<SourceOperation>) { operations = capabilities }

    public func sample() async -> Sample {
        samplesStarted += 1
        samplesRunning += 1
        defer { samplesRunning -= 1 }
        if sampleDelay > .zero { try? await Task.sleep(for: sampleDelay) }
        return Sample(state: state, lagSeconds: state == .unreachable ? nil : lagSeconds, lagVolume: 128, unit: .bytes, position: 1000,
                      errors: state == .unreachable ? ["DR 127.0.0.1:1 is unreachable: connection refused"] : [])
    }

    public func pause() async throws { pauses += 1; state = .paused }
    public func resume() async throws { state = .inSync }

    public func forceFullSync() async throws -> String {
        "the scripted DR side was re-copied"
    }

    /// Drains that fail before one succeeds (a flapping link).
    public private(set) var drainFailures = 0
    public private(set) var drains = 0

    public func waitForDrain(timeout: Duration) async throws -> DrainResult {
        drains += 1
        if state == .paused { throw SyncError.invalidState("cannot drain: paused") }
        if drainFailures > 0 {
            drainFailures -= 1
            throw SyncError.timeout("the scripted DR side did not catch up")
        }
        return DrainResult(target: "0/10", reached: "0/10", waitedSeconds: 0)
    }

    public func check(_ options: CheckOptions, progress: @escaping @Sendable (CheckProgress) -> Void) async throws -> CheckResult {
        guard var scopes = checkScopes else {
            throw SyncError.unsupported(operation: .check, reason: "scripted", remedy: "none")
        }
        if let wanted = options.tables { scopes = scopes.filter { wanted.contains($0.table) } }
        checksStarted += 1
        checksRunning += 1
        mostChecksAtOnce = max(mostChecksAtOnce, checksRunning)
        defer { checksRunning -= 1 }
        if checkDuration > .zero { try await Task.sleep(for: checkDuration) }
        let now = Date()
        return CheckResult(source: name, threshold: GatePolicy.defaultRatioThreshold, tables: scopes, diffs: [], diffsTruncated: false,
                           rounds: 1, stoppedEarly: false, startedAt: now, finishedAt: now)
    }

    public func shutdown() async {}
    public func set(_ state: SyncState) { self.state = state }
    public func set(sampleDelay: Duration) { self.sampleDelay = sampleDelay }
    public func set(lagSeconds: Double) { self.lagSeconds = lagSeconds }
    public func set(drainFailures: Int) { self.drainFailures = drainFailures }
    public func set(checkScopes: [TableCheckResult]?, duration: Duration = .zero) {
        self.checkScopes = checkScopes
        checkDuration = duration
    }
}
