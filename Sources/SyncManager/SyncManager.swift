import Foundation
import Logging
import Metrics
import PostgresSource
import ServiceLifecycle
import SyncCore

/// Builds the adapter for a configured source.
public enum AdapterFactory {
    public static func make(_ config: SourceConfig) -> any SourceAdapter {
        switch config.kind {
        case .postgres:
            PostgresSource(config: config)
        case .redis, .kafka, .objectStore:
            // Config validation refuses these kinds until their adapters exist.
            preconditionFailure("no adapter for kind \(config.kind.rawValue)")
        }
    }
}

public enum ControlAction: String, Sendable, Codable, CaseIterable {
    case pause, resume, drain
    case fullSync = "full_sync"
}

public struct ControlOutcome: Sendable, Codable {
    public var source: String
    public var action: ControlAction
    public var status: String
    public var message: String
    public var drain: DrainResult?
    public var state: SyncState?
    public var durationSeconds: Double
}

/// Status of one source as the API and CLI show it.
public struct SourceStatus: Sendable, Codable {
    public var name: String
    public var kind: SourceKind
    public var pollIntervalSeconds: Double
    public var policy: GatePolicy
    public var capabilities: [SourceOperation]
    public var latest: Sample?
    public var latestCheck: CheckSummary?
    public var runningOperation: String?
    public var verdict: SourceVerdict
}

public struct UnknownSourceError: Error, CustomStringConvertible {
    public var names: [String]
    public var known: [String]
    public init(names: [String], known: [String]) {
        self.names = names
        self.known = known
    }
    public var description: String {
        "unknown source\(names.count > 1 ? "s" : "") \(names.map { "'\($0)'" }.joined(separator: ", ")) (configured: \(known.joined(separator: ", ")))"
    }
}

/// Owns every source's monitor, evaluates the gate, runs control actions, and journals both.
public final class SyncManager: Service, Sendable {
    public let monitors: [SourceMonitor]
    public let journal: Journal
    private let logger: Logger

    public init(sources: [(SourceConfig, any SourceAdapter)], journal: Journal, historySize: Int,
                metricsFactory: MetricsFactory, logger: Logger) {
        monitors = sources.map {
            SourceMonitor(config: $0.0, adapter: $0.1, historySize: historySize, metricsFactory: metricsFactory, logger: logger)
        }
        self.journal = journal
        self.logger = logger
    }

    public var sourceNames: [String] { monitors.map(\.config.name) }

    public func monitor(named name: String) -> SourceMonitor? {
        monitors.first { $0.config.name == name }
    }

    /// Runs every poll loop until graceful shutdown (SIGTERM) or cancellation.
    public func run() async throws {
        logger.info("polling \(monitors.count) source(s)")
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for monitor in self.monitors {
                    group.addTask { await monitor.run() }
                }
            }
        }
        for monitor in monitors { await monitor.adapter.shutdown() }
        logger.info("poll loops stopped")
    }

    public func status(of monitor: SourceMonitor, now: Date = Date()) async -> SourceStatus {
        let latest = await monitor.latest
        let check = await monitor.latestCheck
        let verdict = Gate.evaluate(source: monitor.config.name, policy: monitor.config.policy, sample: latest, check: check, now: now)
        return SourceStatus(
            name: monitor.config.name, kind: monitor.config.kind, pollIntervalSeconds: monitor.config.pollIntervalSeconds,
            policy: monitor.config.policy,
            capabilities: await monitor.adapter.capabilities().sorted { $0.rawValue < $1.rawValue },
            latest: latest, latestCheck: check, runningOperation: await monitor.runningOperation, verdict: verdict)
    }

    public func status() async -> [SourceStatus] {
        var result: [SourceStatus] = []
        for monitor in monitors { result.append(await status(of: monitor)) }
        return result
    }

    /// Resolves requested names; nil or empty means every source.
    public func resolve(_ names: [String]?) throws -> [SourceMonitor] {
        guard let names, !names.isEmpty else { return monitors }
        let unknown = names.filter { monitor(named: $0) == nil }
        guard unknown.isEmpty else { throw UnknownSourceError(names: unknown, known: sourceNames) }
        return names.compactMap { monitor(named: $0) }
    }

    /// Judges the requested sources and journals the verdict. A journal failure fails the gate
    /// (an unrecorded decision is not one we hand out).
    public func evaluateGate(sources names: [String]?, actor: String) async throws -> GateVerdict {
        let selected = try resolve(names)
        let now = Date()
        var verdicts: [SourceVerdict] = []
        for monitor in selected {
            let verdict = Gate.evaluate(source: monitor.config.name, policy: monitor.config.policy,
                                        sample: await monitor.latest, check: await monitor.latestCheck, now: now)
            await monitor.recordGate(verdict.status)
            verdicts.append(verdict)
        }
        let verdict = Gate.combine(verdicts, at: now)
        try await journal.append(kind: "gate", source: selected.count == 1 ? selected[0].config.name : nil, actor: actor,
                                 action: "evaluate", outcome: verdict.status.rawValue, detail: try JSONValue.from(verdict), at: now)
        return verdict
    }

    /// Runs one control action, one at a time per source, and journals who asked, what, and how it ended.
    public func control(_ action: ControlAction, source name: String, actor: String, timeout: Duration = .seconds(60)) async throws -> ControlOutcome {
        guard let monitor = monitor(named: name) else { throw UnknownSourceError(names: [name], known: sourceNames) }
        let clock = ContinuousClock()
        let started = clock.now
        var detail: [String: JSONValue] = [:]
        if action == .drain { detail["timeout_seconds"] = .number(seconds(timeout)) }
        do {
            try await monitor.begin(action.rawValue)
        } catch {
            detail["error"] = .string("\(error)")
            try await journal.append(kind: "control", source: name, actor: actor, action: action.rawValue, outcome: "refused", detail: .object(detail))
            throw error
        }
        do {
            var drain: DrainResult?
            let message: String
            switch action {
            case .pause:
                try await monitor.adapter.pause()
                message = "replication to the DR side is paused"
            case .resume:
                try await monitor.adapter.resume()
                message = "replication to the DR side is resumed"
            case .drain:
                let result = try await monitor.adapter.waitForDrain(timeout: timeout)
                drain = result
                detail["drain"] = try JSONValue.from(result)
                message = "the DR side reached \(result.target) (the primary's position at the call) in \(String(format: "%.2f", result.waitedSeconds)) s"
            case .fullSync:
                try await monitor.adapter.forceFullSync()
                message = "full sync completed"
            }
            await monitor.end()
            let sample = await monitor.poll()
            let duration = seconds(clock.now - started)
            detail["message"] = .string(message)
            detail["duration_seconds"] = .number(duration)
            try await journal.append(kind: "control", source: name, actor: actor, action: action.rawValue, outcome: "ok", detail: .object(detail))
            logger.notice("\(action.rawValue) on \(name) by \(actor): \(message)")
            return ControlOutcome(source: name, action: action, status: "ok", message: message, drain: drain,
                                  state: sample.state, durationSeconds: duration)
        } catch {
            await monitor.end()
            detail["error"] = .string("\(error)")
            detail["duration_seconds"] = .number(seconds(clock.now - started))
            do {
                try await journal.append(kind: "control", source: name, actor: actor, action: action.rawValue, outcome: "error", detail: .object(detail))
            } catch let journalError {
                logger.error("could not journal the failed \(action.rawValue) on \(name): \(journalError)")
            }
            logger.warning("\(action.rawValue) on \(name) by \(actor) failed: \(error)")
            throw error
        }
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
