import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import SyncCore

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
    public var pollTimeoutSeconds: Double?
    public var policy: GatePolicy
    public var capabilities: [SourceOperation]
    public var latest: Sample?
    public var latestCheck: CheckSummary?
    public var runningOperation: String?
    public var verdict: SourceVerdict
}

/// A new operation asked for while syncd stops.
public struct ShuttingDownError: OperationError {
    public var statusCode: Int { 503 }
    public var code: String { "shutting_down" }
    public var remedy: String? { "send it to another syncd instance, or again once this one has restarted" }
    public var description: String { "syncd is shutting down: no new operation starts" }
    public init() {}
}

public struct UnknownSourceError: OperationError {
    public var statusCode: Int { 404 }
    public var code: String { "unknown_source" }
    public var remedy: String? { "use one of the configured names: \(known.joined(separator: ", "))" }
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
    public let journal: any JournalStore
    let logger: Logger
    private let checkJobs = CheckJobs()
    let cutoverRuns = CutoverRuns()
    /// Sources a cutover run works on at once.
    let cutoverConcurrency: Int
    /// How often `run()` journals each source's lag summary, and how far back a cutover's exposure looks.
    let lagSummaryInterval: Double
    let exposureWindow: Double
    /// How long journal entries are kept (cutover runs always); nil keeps everything.
    let journalRetention: Double?
    let gateRepeats = GateRepeats()
    /// Set when graceful shutdown begins: no new operation starts after it.
    let stopping = Mutex(false)
    /// Several instances sharing the journal; nil for one instance (always the writer).
    let leadershipSettings: LeadershipSettings?
    let leadership = LeadershipState()
    /// Whether leader-only writes may start: granted while this instance holds the lease.
    public let fence: WriteFence
    /// Why this engine never leads (an in-process syncctl over a shared journal); nil otherwise.
    let noLease: String?
    let metricsFactory: MetricsFactory

    public init(sources: [(SourceConfig, any SourceAdapter)], journal: any JournalStore, historySize: Int,
                metricsFactory: MetricsFactory, logger: Logger, cutoverConcurrency: Int = SyncdConfig.defaultCutoverConcurrency,
                lagSummaryInterval: Double = SyncdConfig.defaultLagSummaryIntervalSeconds,
                exposureWindow: Double = SyncdConfig.defaultExposureWindowSeconds,
                journalRetention: Double? = nil, leadership: LeadershipSettings? = nil, fence: WriteFence = .shared,
                noLease: String? = nil) {
        leadershipSettings = leadership
        self.noLease = noLease
        self.fence = fence
        self.metricsFactory = metricsFactory
        if leadership != nil { fence.revoke() }
        self.journalRetention = journalRetention
        self.cutoverConcurrency = max(1, cutoverConcurrency)
        self.lagSummaryInterval = max(0.05, lagSummaryInterval)
        self.exposureWindow = max(1, exposureWindow)
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

    func requireMonitor(named name: String) throws -> SourceMonitor {
        guard let monitor = monitor(named: name) else { throw UnknownSourceError(names: [name], known: sourceNames) }
        return monitor
    }

    /// Runs every poll loop until graceful shutdown (SIGTERM) or cancellation.
    public func run() async throws {
        await restoreLatestChecks()
        logger.info("polling \(monitors.count) source(s)")
        await withGracefulShutdownHandler {
            await self.runLoops()
        } onGracefulShutdown: {
            Task { await self.beginStopping() }
        }
        for monitor in monitors { await monitor.adapter.shutdown() }
        logger.info("poll loops stopped")
    }

    /// Graceful shutdown: no new operation starts, running checks and cutover runs are cancelled
    /// (and journaled so by their own paths), and every long poll is answered now instead of at
    /// its timeout.
    func beginStopping() async {
        stopping.withLock { $0 = true }
        let checks = await checkJobs.cancelAll()
        let runs = await cutoverRuns.board.cancelAll()
        if !checks.isEmpty || !runs.isEmpty {
            logger.notice("shutting down: cancelled \(checks.count) running check(s) and \(runs.count) cutover run(s)")
        }
        // A moment for them to end and journal it, so the long polls see the final state.
        let deadline = ContinuousClock.now + .seconds(1)
        while ContinuousClock.now < deadline {
            let checksRunning = await checkJobs.anyRunning
            let runsRunning = await cutoverRuns.board.anyRunning
            guard checksRunning || runsRunning else { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        await checkJobs.wakeAll()
        await cutoverRuns.board.wakeAll()
    }

    /// Refuses a new operation once shutdown began (503: another instance, or this one restarted, takes it).
    func admitWork() throws {
        if stopping.withLock({ $0 }) { throw ShuttingDownError() }
    }

    private func runLoops() async {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                if let settings = self.leadershipSettings {
                    group.addTask { await self.runLeadership(settings) }
                }
                for monitor in self.monitors {
                    group.addTask { await monitor.run() }
                    // The mirror and the managed copy write to the DR side: the leader's work only.
                    group.addTask {
                        await self.whileLeader {
                            guard let paused = await self.replicationPausedOnRecord(monitor.config.name) else { return }
                            await monitor.adapter.runBackground(paused: paused)
                        }
                    }
                    if let schedule = monitor.config.checkSchedule {
                        group.addTask { await self.runSchedule(schedule, for: monitor) }
                    }
                }
                group.addTask { await self.journalLagSummaries(every: self.lagSummaryInterval) }
                group.addTask { await self.keepJournal() }
            }
        }
    }

    public func status(of monitor: SourceMonitor, now: Date = Date()) async -> SourceStatus {
        let latest = await monitor.latest
        let check = await monitor.latestCheck
        let verdict = Gate.evaluate(source: monitor.config.name, policy: monitor.config.policy, sample: latest, check: check, now: now)
        return SourceStatus(
            name: monitor.config.name, kind: monitor.config.kind, pollIntervalSeconds: monitor.config.pollIntervalSeconds,
            pollTimeoutSeconds: monitor.config.pollTimeoutSeconds, policy: monitor.config.policy,
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
        try await requireJournal()
        let now = Date()
        var verdicts: [SourceVerdict] = []
        for monitor in selected {
            let verdict = Gate.evaluate(source: monitor.config.name, policy: monitor.config.policy,
                                        sample: await monitor.latest, check: await monitor.latestCheck, now: now)
            await monitor.recordGate(verdict.status)
            verdicts.append(verdict)
        }
        let verdict = Gate.combine(verdicts, at: now)
        let source = selected.count == 1 ? selected[0].config.name : nil
        let (write, summaries) = await gateRepeats.record(actor: actor, verdict: verdict, source: source, at: now)
        await journalRepeats(summaries)
        if write {
            do {
                try await journal.append(kind: "gate", source: source, actor: actor,
                                         action: "evaluate", outcome: verdict.status.rawValue, detail: try JSONValue.from(verdict), at: now)
            } catch let error as JournalError {
                throw JournalUnavailableError(reason: error.message)
            }
        }
        return verdict
    }

    /// Runs one control action, one at a time per source, and journals who asked, what, and how it ended.
    public func control(_ action: ControlAction, source name: String, actor: String, timeout: Duration = .seconds(60)) async throws -> ControlOutcome {
        try admitWork()
        let monitor = try requireMonitor(named: name)
        let clock = ContinuousClock()
        let started = clock.now
        var detail: [String: JSONValue] = [:]
        if action == .drain { detail["timeout_seconds"] = .number(timeout.seconds) }
        do {
            try await monitor.begin(action.rawValue)
        } catch {
            detail["error"] = .string("\(error)")
            try await journal.append(kind: "control", source: name, actor: actor, action: action.rawValue, outcome: "refused", detail: .object(detail))
            throw error
        }
        do {
            detail[Self.operationKey] = .string(try await journalIntent(kind: "control", source: name, actor: actor, action: action.rawValue, detail: detail))
        } catch {
            await monitor.end()
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
                message = try await monitor.adapter.forceFullSync()
            }
            // Recorded once it took effect (a refused pause must not pause the next leader).
            if let state = Self.replicationState(after: action) { try await journalReplicationState(state, source: name, actor: actor) }
            await monitor.end()
            let sample = await monitor.freshSample()
            let duration = (clock.now - started).seconds
            detail["message"] = .string(message)
            detail["duration_seconds"] = .number(duration)
            try await journal.append(kind: "control", source: name, actor: actor, action: action.rawValue, outcome: "ok", detail: .object(detail))
            logger.notice("\(action.rawValue) on \(name) by \(actor): \(message)")
            return ControlOutcome(source: name, action: action, status: "ok", message: message, drain: drain,
                                  state: sample.state, durationSeconds: duration)
        } catch {
            await monitor.end()
            detail["error"] = .string("\(error)")
            detail["duration_seconds"] = .number((clock.now - started).seconds)
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

extension SyncManager {
    /// Starts a check in the background; follow it with `checkJob(id:)`. One operation per source at a time.
    public func startCheck(source name: String, options: CheckOptions, actor: String) async throws -> CheckJob {
        try admitWork()
        let monitor = try requireMonitor(named: name)
        guard await monitor.adapter.capabilities().contains(.check) else {
            throw SyncError.unsupported(operation: .check, reason: "\(monitor.config.kind.rawValue) source '\(name)' has no consistency check in this version",
                                        remedy: "verify it by other means")
        }
        try await monitor.begin("check")
        let job = CheckJob(id: UUID().uuidString.lowercased(), source: name, actor: actor, status: .running, startedAt: Date(),
                           progress: CheckProgress(), result: nil, error: nil)
        await checkJobs.add(job)
        let task = Task {
            // The source is free before a waiter learns that the job ended.
            do {
                let result = try await self.runCheck(monitor, options: options, actor: actor, jobID: job.id)
                await monitor.end()
                await self.checkJobs.update(job.id) { $0.status = .done; $0.result = result }
            } catch is CancellationError {
                await monitor.end()
                await self.checkJobs.update(job.id) { $0.status = .cancelled; $0.error = "the check was cancelled" }
            } catch {
                await monitor.end()
                await self.checkJobs.update(job.id) { $0.status = .error; $0.error = "\(error)" }
            }
        }
        await checkJobs.attach(job.id, task: task)
        return job
    }

    /// The job, once it has finished or `wait` seconds have passed (a long poll: a client learns
    /// that a short check ended at once instead of at its next poll). Woken by the job's end.
    public func checkJob(id: String, wait: Double = 0) async -> CheckJob? {
        await checkJobs.job(id, waitingUpTo: .milliseconds(Int64(max(0, wait) * 1000)))
    }

    /// Cancels a running check: its statements are cancelled on the servers and its transfers stop.
    /// The gate keeps the previous check's record (a cancelled check is no evidence either way).
    public func cancelCheck(id: String, actor: String) async throws -> CheckJob {
        guard let job = await checkJobs.job(id) else {
            throw SyncError.invalidState("no check job '\(id)' (the newest 100 jobs are kept in memory)")
        }
        guard await checkJobs.cancel(id) else {
            throw SyncError.invalidState("check job '\(id)' is not running (it is \(job.status.rawValue))")
        }
        try await journal.append(kind: "check", source: job.source, actor: actor, action: "cancel", outcome: "ok",
                                 detail: .object(["job": .string(id)]))
        return await checkJobs.job(id, waitingUpTo: .seconds(10)) ?? job
    }

    /// Runs a check to its end (in-process callers); the result feeds the gate and the journal.
    public func check(source name: String, options: CheckOptions, actor: String,
                      progress: @escaping @Sendable (CheckProgress) -> Void = { _ in }) async throws -> CheckResult {
        try admitWork()
        let monitor = try requireMonitor(named: name)
        try await monitor.begin("check")
        do {
            let result = try await runCheck(monitor, options: options, actor: actor, jobID: nil, progress: progress)
            await monitor.end()
            return result
        } catch {
            await monitor.end()
            throw error
        }
    }

    private func runCheck(_ monitor: SourceMonitor, options: CheckOptions, actor: String, jobID: String?,
                          progress: @escaping @Sendable (CheckProgress) -> Void = { _ in }) async throws -> CheckResult {
        let name = monitor.config.name
        let jobs = checkJobs
        let report: @Sendable (CheckProgress) -> Void = { update in
            progress(update)
            if let jobID { Task { await jobs.update(jobID) { $0.progress = update } } }
        }
        let started = Date()
        let action = options.tables != nil ? "verify (partial)" : "verify"
        let operation = JSONValue.string(try await journalIntent(kind: "check", source: name, actor: actor, action: action,
                                                                 detail: ["tables": try JSONValue.from(options.tables), "rounds": .number(Double(options.rounds))]))
        do {
            var result = try await monitor.adapter.check(options, progress: report)
            result.partial = options.tables != nil
            await monitor.recordCheck(result.summary, durationSeconds: Date().timeIntervalSince(started))
            try await journal.append(kind: "check", source: name, actor: actor, action: action,
                                     outcome: result.status.rawValue,
                                     detail: .object(["summary": try JSONValue.from(result.summary), "result": try JSONValue.from(result),
                                                      Self.operationKey: operation]))
            logger.notice("check of \(name) by \(actor): \(result.status.rawValue), ratio \(result.ratio), \(result.missing) missing, \(result.extra) extra, \(result.changed) changed")
            return result
        } catch is CancellationError {
            _ = try? await journal.append(kind: "check", source: name, actor: actor, action: action,
                                          outcome: "cancelled", detail: .object(["duration_seconds": .number(Date().timeIntervalSince(started)),
                                                                                 Self.operationKey: operation]))
            logger.notice("check of \(name) by \(actor) was cancelled")
            throw CancellationError()
        } catch {
            // A failed check is evidence too: the gate must fail until a good one runs.
            let partial = options.tables != nil
            let summary = CheckSummary(finishedAt: Date(), ratio: nil, countRatio: nil, error: "\(error)", scopes: [], partial: partial, complete: false)
            await monitor.recordCheck(summary, durationSeconds: Date().timeIntervalSince(started))
            _ = try? await journal.append(kind: "check", source: name, actor: actor, action: action, outcome: "error",
                                          detail: .object(["summary": try JSONValue.from(summary),
                                                           "duration_seconds": .number(Date().timeIntervalSince(started)),
                                                           Self.operationKey: operation]))
            logger.warning("check of \(name) by \(actor) failed: \(error)")
            throw error
        }
    }

    /// The latest check's full result for a source, from the journal (survives restarts).
    public func latestCheckResult(source name: String) async throws -> JSONValue? {
        _ = try requireMonitor(named: name)
        // Cancelled checks and cancel requests are journaled too; they hold no result.
        return try await journal.recent(limit: 50, source: name, kind: "check").first { $0.detail?["summary"] != nil }?.detail
    }

    /// After a restart the gate judges the checks recorded before it, not "no check": the latest full
    /// check and the partial ones after it, merged in order as they were when recorded.
    public func restoreLatestChecks() async {
        for monitor in monitors { await restoreLatestCheck(monitor) }
    }

    /// The newest full check and the partial ones after it, from the journal.
    func restoreLatestCheck(_ monitor: SourceMonitor) async {
        guard let entries = try? await journal.recent(limit: 200, source: monitor.config.name, kind: "check") else { return }
        var replay: [CheckSummary] = []
        for entry in entries {  // newest first
            guard let summary = try? entry.detail?["summary"]?.decoded(as: CheckSummary.self) else { continue }
            replay.append(summary)
            if summary.partial != true { break }
        }
        for summary in replay.reversed() { await monitor.recordCheck(summary) }
    }
}

/// What `reconcile` did: the plan always, the outcome when applied.
public struct ReconcileReport: Sendable, Codable {
    public var source: String
    public var mode: String
    public var plan: ReconcilePlan
    public var outcome: ReconcileOutcome?
}

extension SyncManager {
    /// The latest check's full result, read back from the journal.
    public func latestCheck(source name: String) async throws -> CheckResult {
        guard let detail = try await latestCheckResult(source: name) else {
            throw SyncError.invalidState("no consistency check has run for '\(name)': run syncctl verify --source \(name) first")
        }
        guard let result = detail["result"] else {
            throw SyncError.invalidState("the latest check of '\(name)' failed; run syncctl verify --source \(name) again")
        }
        return try result.decoded(as: CheckResult.self)
    }

    /// Plans (dry run, the default) or applies the repair of the latest check's differences. Journaled either way.
    /// `deleteExtras`: object stores delete DR-only objects only when asked (other kinds always remove extra rows/keys).
    public func reconcile(source name: String, apply: Bool, deleteExtras: Bool = false, actor: String) async throws -> ReconcileReport {
        if apply { try admitWork() }
        let monitor = try requireMonitor(named: name)
        try await monitor.begin(apply ? "reconcile" : "reconcile plan")
        let mode = apply ? "apply" : "dry-run"
        var operation: JSONValue?
        do {
            let check = try await latestCheck(source: name)
            let plan = try await monitor.adapter.planReconcile(from: check, deleteExtras: deleteExtras)
            var detail: [String: JSONValue] = ["upserts": .number(Double(plan.upserts)), "deletes": .number(Double(plan.deletes)),
                                               "batches": .number(Double(plan.batches.count))]
            // The DR side is about to change: the intent is on record first.
            if apply { detail[Self.operationKey] = .string(try await journalIntent(kind: "reconcile", source: name, actor: actor, action: mode, detail: detail)) }
            operation = detail[Self.operationKey]
            let outcome = apply ? try await monitor.adapter.applyReconcile(plan) : nil
            await monitor.end()
            let report = ReconcileReport(source: name, mode: mode, plan: plan, outcome: outcome)
            detail["outcome"] = try outcome.map { try JSONValue.from($0) } ?? .null
            try await journal.append(kind: "reconcile", source: name, actor: actor, action: mode,
                                     outcome: outcome.map { $0.status == .pass ? "ok" : "incomplete" } ?? "planned",
                                     detail: .object(detail))
            return report
        } catch {
            await monitor.end()
            var detail: [String: JSONValue] = ["error": .string("\(error)")]
            if let operation { detail[Self.operationKey] = operation }
            _ = try? await journal.append(kind: "reconcile", source: name, actor: actor, action: mode, outcome: "error", detail: .object(detail))
            throw error
        }
    }
}

/// The one-line state of all sources, as `/v1/status` and the status page show it.
public struct StatusSummary: Sendable, Codable, Equatable {
    public var sources: Int
    /// Sources whose latest sample is `in_sync`.
    public var inSync: Int
    /// The largest known lag, and whose it is; nil when no source has a known lag.
    public var worstLagSeconds: Double?
    public var worstLagSource: String?
    /// Sources whose lag is unknown (no sample, or the source cannot tell).
    public var lagUnknown: [String]
    /// Sources with no consistency check, or whose latest one is older than their `check_max_age`.
    public var checksTooOld: [String]

    public init(_ statuses: [SourceStatus]) {
        sources = statuses.count
        inSync = statuses.filter { $0.latest?.state == .inSync }.count
        let known = statuses.compactMap { status in status.latest?.lagSeconds.map { (status.name, $0) } }
        if let worst = known.max(by: { $0.1 < $1.1 }) { (worstLagSource, worstLagSeconds) = (worst.0, worst.1) }
        lagUnknown = statuses.filter { $0.latest?.lagSeconds == nil }.map(\.name)
        checksTooOld = statuses.filter { status in
            guard let age = status.verdict.checkAgeSeconds, status.latestCheck != nil else { return true }
            return age > status.policy.checkMaxAgeSeconds
        }.map(\.name)
    }
}
