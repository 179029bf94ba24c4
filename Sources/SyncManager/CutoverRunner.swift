import Foundation
import Logging
import SyncCore

/// The cutover: per source exposure, drain, verify, gate (and pause after a pass when the plan says
/// so), sources of a stage in parallel, the whole run journaled with the digest of its report.
extension SyncManager {
    /// Validates the request, reserves its sources and starts the run in the background; follow it
    /// with `cutoverRun(id:wait:)`.
    public func startCutover(_ request: CutoverRequest, actor: String) async throws -> CutoverRun {
        try admitWork()
        try await requireLeader()
        let plan = try await cutoverPlan(for: request)
        if let timeout = request.timeoutSeconds, !(1...86_400).contains(timeout) {
            throw CutoverRequestError("the timeout must be from 1 s to 24 h, got \(timeout) s")
        }
        var sources: [SourceRun] = []
        for stage in plan.stages {
            for step in stage.steps {
                let monitor = try requireMonitor(named: step.source)
                sources.append(SourceRun(source: step.source, kind: monitor.config.kind, stage: stage.name, step: step, status: .running,
                                         phase: .waiting, attempts: 0, phases: [], gateReasons: [], paused: false, seconds: 0))
            }
        }
        let run = CutoverRun(id: UUID().uuidString.lowercased(), drill: request.drill, actor: actor, configDigest: configDigest, plan: plan,
                             status: .running, startedAt: Date(), sources: sources)
        try await cutoverRuns.reserve(run)
        do {
            try await journal.append(kind: "cutover", source: nil, actor: actor, action: request.drill ? "drill" : "start", outcome: "running",
                                     detail: .object(["id": .string(run.id), "plan": try JSONValue.from(plan)]))
        } catch {
            await cutoverRuns.release(run)
            await cutoverRuns.board.update(run.id) { $0.status = .error; $0.reason = "the run could not be journaled: \(error)" }
            throw error
        }
        logger.notice("cutover \(run.id)\(request.drill ? " (drill)" : "") by \(actor): \(plan.sources.joined(separator: ", "))")
        let timeout = request.timeoutSeconds
        let task = Task { await self.execute(run, timeout: timeout) }
        await cutoverRuns.board.attach(run.id, task: task)
        return run
    }

    /// The run once it has finished or `wait` seconds have passed.
    public func cutoverRun(id: String, wait: Double = 0) async -> CutoverRun? {
        await cutoverRuns.board.job(id, waitingUpTo: .milliseconds(Int64(max(0, wait) * 1000)))
    }

    /// Newest first (the newest 100 are kept in memory; every report is in the journal).
    public func cutoverRunList() async -> [CutoverRun] {
        await cutoverRuns.board.all()
    }

    /// Cancels a running run: its checks are cancelled on the servers; it is journaled as cancelled.
    public func cancelCutover(id: String, actor: String) async throws -> CutoverRun {
        guard let run = await cutoverRuns.board.job(id) else {
            throw SyncError.invalidState("no cutover run '\(id)' (the newest 100 are kept in memory; reports stay in the journal)")
        }
        guard await cutoverRuns.board.cancel(id) else {
            throw SyncError.invalidState("cutover run '\(id)' is not running (it is \(run.status.rawValue))")
        }
        try await journal.append(kind: "cutover", source: nil, actor: actor, action: "cancel", outcome: "ok", detail: .object(["id": .string(id)]))
        return await cutoverRuns.board.job(id, waitingUpTo: .seconds(30)) ?? run
    }

    /// The report digest journaled for a run; nil when the journal has no finished run of that id.
    public func journaledCutoverDigest(id: String) async throws -> String? {
        let entries = try await journal.recent(limit: 100_000, source: nil, kind: "cutover")
        for entry in entries where entry.action == "finish" && entry.detail?["id"] == .string(id) {
            if case let .string(digest)? = entry.detail?["report_sha256"] { return digest }
        }
        return nil
    }

    /// SHA-256 of the sources' effective settings (names, kinds, where each side is, poll timing
    /// and gate policy; never a secret).
    public var configDigest: String {
        CanonicalJSON.sha256(.array(monitors.map { monitor in
            let config = monitor.config
            return .object([
                "name": .string(config.name), "kind": .string(config.kind.rawValue),
                "primary": .string("\(config.primary.host):\(config.primary.port)"), "dr": .string("\(config.dr.host):\(config.dr.port)"),
                "poll_interval": .number(config.pollIntervalSeconds), "poll_timeout": .number(config.pollTimeoutSeconds),
                "policy": (try? JSONValue.from(config.policy)) ?? .null,
            ])
        }))
    }

    /// The plan a request runs: its own, or one stage of the named (or every) source.
    func cutoverPlan(for request: CutoverRequest) async throws -> CutoverPlan {
        if request.plan != nil, request.sources != nil {
            throw CutoverRequestError("give either sources or a plan, not both (a plan names its sources)")
        }
        let plan = try request.plan ?? CutoverPlan.everySource(resolve(request.sources).map(\.config.name))
        guard !plan.sources.isEmpty else { throw CutoverRequestError("the plan names no source") }
        let unknown = plan.sources.filter { monitor(named: $0) == nil }
        guard unknown.isEmpty else { throw UnknownSourceError(names: unknown, known: sourceNames) }
        guard Set(plan.sources).count == plan.sources.count else { throw CutoverRequestError("a source appears twice in the plan") }
        for step in plan.stages.flatMap(\.steps) {
            let monitor = try requireMonitor(named: step.source)
            if let threshold = step.ratioThreshold, threshold < monitor.config.policy.ratioThreshold {
                throw CutoverRequestError(
                    "source '\(step.source)': the plan's ratio_threshold \(threshold) is below the config's \(monitor.config.policy.ratioThreshold); a plan may raise a threshold, never lower it")
            }
            guard await monitor.adapter.capabilities().contains(.check) else {
                throw CutoverRequestError("source '\(step.source)' (\(monitor.config.kind)) has no consistency check: a cutover cannot verify it",
                                          remedy: "leave it out (--sources) or verify it by other means")
            }
        }
        return plan
    }

    // MARK: running

    private struct TimedOut: Error {}

    private func execute(_ run: CutoverRun, timeout: Double?) async {
        let clock = ContinuousClock()
        let started = clock.now
        var status: CutoverStatus
        var reason: String?
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.runStages(run) }
                if let timeout {
                    group.addTask {
                        try await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
                        throw TimedOut()
                    }
                }
                try await group.next()
                group.cancelAll()
            }
            let finished = await cutoverRuns.board.job(run.id)?.sources ?? []
            let failedRequired = finished.filter { $0.step.required && $0.status != .pass }
            let failedOptional = finished.filter { !$0.step.required && $0.status != .pass }
            status = failedRequired.isEmpty ? (failedOptional.isEmpty ? .pass : .degraded) : .fail
            if !failedRequired.isEmpty {
                reason = failedRequired.map { "\($0.source): \($0.reason ?? $0.status.rawValue)" }.joined(separator: "; ")
            } else if !failedOptional.isEmpty {
                reason = "optional source(s) did not pass: " + failedOptional.map { "\($0.source): \($0.reason ?? $0.status.rawValue)" }.joined(separator: "; ")
            }
        } catch is TimedOut {
            status = .error
            reason = "the run did not finish within its timeout (\(Gate.format(timeout ?? 0)) s); what was still running was cancelled"
        } catch {
            status = Task.isCancelled || error is CancellationError ? .cancelled : .error
            reason = status == .cancelled ? "the run was cancelled" : "\(error)"
        }
        let seconds = (clock.now - started).seconds
        let (endStatus, endReason) = (status, reason)
        await cutoverRuns.board.update(run.id) { current in
            for index in current.sources.indices where current.sources[index].status == .running {
                current.sources[index].status = endStatus == .cancelled ? .cancelled : .error
                current.sources[index].reason = current.sources[index].reason ?? endReason
            }
        }
        guard var report = await cutoverRuns.board.job(run.id) else { return }
        report.status = status
        report.reason = reason
        report.finishedAt = Date()
        report.secondsToVerdict = seconds
        do {
            let body = try report.digestable
            let digest = CanonicalJSON.sha256(body)
            try await journal.append(kind: "cutover", source: nil, actor: run.actor, action: "finish", outcome: status.rawValue,
                                     detail: .object(["id": .string(run.id), "report_sha256": .string(digest), "report": body]))
            report.reportSha256 = digest
        } catch {
            report.status = .error
            report.reason = "the report could not be journaled: \(error)"
        }
        let final = report
        logger.notice("cutover \(run.id): \(final.status.rawValue) in \(Gate.format(seconds)) s\(final.reason.map { " (\($0))" } ?? "")")
        await cutoverRuns.release(run)
        await cutoverRuns.board.update(run.id) { $0 = final }
    }

    private func runStages(_ run: CutoverRun) async throws {
        var abortedBy: String?
        for stage in run.plan.stages {
            try Task.checkCancellation()
            if let abortedBy {
                let names = Set(stage.steps.map(\.source))
                await updateSources(run.id, names) {
                    $0.status = .skipped
                    $0.phase = .done
                    $0.reason = "not run: '\(abortedBy)' failed earlier and its plan says on_failure: abort"
                }
                continue
            }
            let limit = cutoverConcurrency
            abortedBy = await withTaskGroup(of: (String, Bool).self) { group -> String? in
                var pending = stage.steps[...]
                var running = 0
                var abort: String?
                while true {
                    while running < limit, let step = pending.popFirst() {
                        running += 1
                        group.addTask {
                            let status = await self.runSource(run, step)
                            return (step.source, status != .pass && step.onFailure == .abort)
                        }
                    }
                    guard let (source, aborts) = await group.next() else { break }
                    running -= 1
                    if aborts, abort == nil { abort = source }
                }
                return abort
            }
            try Task.checkCancellation()
        }
    }

    private func updateSources(_ id: String, _ names: Set<String>, _ change: @escaping @Sendable (inout SourceRun) -> Void) async {
        await cutoverRuns.board.update(id) { run in
            for index in run.sources.indices where names.contains(run.sources[index].source) { change(&run.sources[index]) }
        }
    }

    func updateSource(_ id: String, _ name: String, _ change: @escaping @Sendable (inout SourceRun) -> Void) async {
        await updateSources(id, [name], change)
    }

    /// Runs a source's attempts (one, or more with on_failure: retry); returns how it ended.
    private func runSource(_ run: CutoverRun, _ step: CutoverStep) async -> CutoverStatus {
        let clock = ContinuousClock()
        let started = clock.now
        var attempt = 0
        var outcome: (CutoverStatus, String?)
        while true {
            attempt += 1
            let number = attempt
            await updateSource(run.id, step.source) { $0.attempts = number }
            outcome = await attemptSource(run, step, attempt: attempt)
            let retry = outcome.0 == .fail && step.onFailure == .retry && attempt <= step.retries
            guard retry, !Task.isCancelled else { break }
            let backoff = step.retryBackoffSeconds
            await updateSource(run.id, step.source) { $0.phase = .waiting; $0.reason = "attempt \(number) failed; retrying in \(Gate.format(backoff)) s" }
            do {
                try await Task.sleep(for: .milliseconds(Int64(backoff * 1000)))
            } catch {
                outcome = (.cancelled, "the run was cancelled")
                break
            }
        }
        let (status, reason) = outcome
        let seconds = (clock.now - started).seconds
        await updateSource(run.id, step.source) {
            $0.status = status
            $0.reason = reason
            $0.phase = .done
            $0.seconds = seconds
        }
        return status
    }
}
