import Foundation
import SyncCore

/// The phases of one attempt at one source.
extension SyncManager {
    /// A failed phase: why, in the words the report shows.
    struct PhaseFailure: Error {
        var message: String
    }

    /// Exposure, drain, verify, gate and (after a pass, when asked, never in a drill) pause.
    func attemptSource(_ run: CutoverRun, _ step: CutoverStep, attempt: Int) async -> (CutoverStatus, String?) {
        guard let monitor = monitor(named: step.source) else { return (.error, "unknown source") }
        let id = run.id
        let name = step.source
        do {
            try await phase(id, name, .exposure, attempt) {
                let exposure = await self.exposure(monitor)
                await self.updateSource(id, name) { $0.exposure = exposure }
                return exposure.note
            }
            try await phase(id, name, .drain, attempt) {
                guard step.drain else {
                    return "skipped by the plan (drain: false): a periodic copy has no position to catch up to; the check compares the data itself"
                }
                guard await monitor.adapter.capabilities().contains(.drain) else {
                    return "skipped: this source has no replication position to drain to; the check compares the data itself"
                }
                let outcome = try await self.control(.drain, source: name, actor: run.actor, timeout: .milliseconds(Int64(step.drainTimeoutSeconds * 1000)))
                await self.updateSource(id, name) { $0.drain = outcome.drain }
                return outcome.message
            }
            var checked: CheckResult?
            try await phase(id, name, .verify, attempt) {
                let options = CheckOptions(rounds: step.rounds)
                let result = try await self.check(source: name, options: options, actor: run.actor) { progress in
                    // A late update (after the verify phase ended) is dropped: the report keeps the final figures in `check`.
                    Task { await self.updateSource(id, name) { if $0.phase == .verify { $0.progress = progress } } }
                }
                checked = result
                var sample = result
                // The report keeps a sample of the differences; the journal has them all.
                sample.diffs = Array(result.diffs.prefix(20))
                sample.diffsTruncated = result.diffsTruncated || result.diffs.count > sample.diffs.count
                let kept = sample
                await self.updateSource(id, name) { $0.check = kept; $0.progress = nil }
                return "\(result.status.rawValue): ratio \(result.ratio), \(result.missing) missing, \(result.extra) extra, \(result.changed) changed"
            }
            guard let result = checked else { throw PhaseFailure(message: "verify: no result") }
            try await phase(id, name, .gate, attempt) {
                var policy = monitor.config.policy
                if let threshold = step.ratioThreshold { policy.ratioThreshold = max(policy.ratioThreshold, threshold) }
                // A fresh sample: the gate judges the present, after the drain and the check.
                let sample = await monitor.freshSample()
                let verdict = Gate.evaluate(source: name, policy: policy, sample: sample, check: result.summary, now: Date())
                await self.updateSource(id, name) { $0.gateReasons = verdict.reasons; $0.progress = nil }
                guard verdict.status == .pass else { throw PhaseFailure(message: "gate: " + verdict.reasons.joined(separator: "; ")) }
                return "pass"
            }
            if step.pauseAfter {
                try await phase(id, name, .pause, attempt) {
                    guard !run.drill else { return "drill: replication was left running" }
                    let outcome = try await self.control(.pause, source: name, actor: run.actor)
                    await self.updateSource(id, name) { $0.paused = true }
                    return outcome.message
                }
            }
            return (.pass, nil)
        } catch is CancellationError {
            return (.cancelled, "the run was cancelled")
        } catch let failure as PhaseFailure {
            return (.fail, failure.message)
        } catch {
            return (.fail, "\(error)")
        }
    }

    /// Runs one phase and records it; a phase that throws fails the attempt, named.
    private func phase(_ id: String, _ name: String, _ phase: CutoverPhase, _ attempt: Int,
                       _ body: () async throws -> String?) async throws {
        await updateSource(id, name) { $0.phase = phase }
        let started = Date()
        let clock = ContinuousClock.now
        do {
            let message = try await body()
            let record = PhaseRecord(phase: phase, attempt: attempt, startedAt: started, seconds: clock.duration(to: .now).seconds,
                                     outcome: "ok", message: message)
            await updateSource(id, name) { $0.phases.append(record) }
        } catch {
            let cancelled = error is CancellationError || Task.isCancelled
            let message = (error as? PhaseFailure)?.message ?? "\(phase.rawValue): \(error)"
            let record = PhaseRecord(phase: phase, attempt: attempt, startedAt: started, seconds: clock.duration(to: .now).seconds,
                                     outcome: cancelled ? "cancelled" : "failed", message: message)
            await updateSource(id, name) { $0.phases.append(record) }
            if cancelled { throw CancellationError() }
            throw PhaseFailure(message: message)
        }
    }

    /// The lag now, and the worst lag over the exposure window: the samples held in memory and
    /// the lag summaries syncd journaled (which is all `syncctl --config` has beyond its own samples).
    func exposure(_ monitor: SourceMonitor) async -> Exposure {
        let now = await monitor.freshSample()
        let history = await monitor.history(limit: Int.max).filter { now.time.timeIntervalSince($0.time) <= exposureWindow }
        let (summaries, journalError) = await journaledLagSummaries(source: monitor.config.name, window: exposureWindow, now: now.time)
        var worst = history.filter { $0.lagSeconds != nil }.max { $0.lagSeconds! < $1.lagSeconds! }.map { (seconds: $0.lagSeconds!, at: $0.time) }
        for summary in summaries {
            if let seconds = summary.worstLagSeconds, let at = summary.worstLagAt, seconds > worst?.seconds ?? -1 { worst = (seconds, at) }
        }
        let oldest = [history.first?.time, summaries.first?.from].compactMap { $0 }.min()
        let window = oldest.map { now.time.timeIntervalSince($0) } ?? 0
        let withoutLag = history.filter { $0.lagSeconds == nil }.count + summaries.reduce(0) { $0 + $1.samplesWithoutLag }
        var notes: [String] = []
        if let journalError {
            notes.append("the journal's lag summaries could not be read (\(journalError)): the window is the \(history.count) sample(s) in memory")
        } else if summaries.isEmpty && history.count < 3 {
            notes.append("no exposure window is on record: \(history.count) sample(s) in memory over \(Gate.format(window)) s and no lag summary journaled within exposure_window \(DurationText.describe(exposureWindow)) (syncd journals one per source every \(DurationText.describe(lagSummaryInterval)); syncctl --config journals none)")
        }
        if withoutLag > 0 {
            notes.append("\(withoutLag) sample(s) in the window had no known lag (a side unreachable or broken, or lag not yet measurable, e.g. no heartbeat copied yet): the worst lag is at least the figure shown")
        }
        return Exposure(state: now.state, lagSeconds: now.lagSeconds, lagVolume: now.lagVolume, unit: now.unit, worstLagSeconds: worst?.seconds,
                        worstLagAt: worst?.at, windowSeconds: window, samples: history.count, journaledSummaries: summaries.count,
                        samplesWithoutLag: withoutLag, note: notes.isEmpty ? nil : notes.joined(separator: "; "))
    }
}
