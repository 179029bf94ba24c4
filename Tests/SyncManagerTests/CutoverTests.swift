import Foundation
import Logging
import Metrics
import SQLiteJournal
import Testing
import TestSupport
@testable import SyncCore
@testable import SyncManager

/// The cutover run's bookkeeping with scripted adapters: phases, plans, failure policies, the
/// journaled digest. (The adapters' own drains and checks are tested against real servers.)
@Suite struct CutoverTests {
    struct Site {
        let manager: SyncManager
        let adapters: [String: ScriptedAdapter]
    }

    static let equal = [TableCheckResult(table: "t", status: .equal, primaryRows: 1000, drRows: 1000)]

    static func site(_ names: [String] = ["a", "b", "c"], threshold: Double = 0.999, journal: String? = nil,
                     pollInterval: Double = 1, lagSummaryInterval: Double = 60) async throws -> Site {
        let endpoint = EndpointConfig(host: "127.0.0.1", port: 1)
        var adapters: [String: ScriptedAdapter] = [:]
        var sources: [(SourceConfig, any SourceAdapter)] = []
        for name in names {
            let adapter = ScriptedAdapter(name: name)
            await adapter.set(checkScopes: equal)
            adapters[name] = adapter
            let config = SourceConfig(name: name, kind: ScriptedAdapter.scriptedKind, primary: endpoint, dr: endpoint, pollIntervalSeconds: pollInterval,
                                      pollTimeoutSeconds: 2,
                                      policy: GatePolicy(lagBudgetSeconds: 30, checkMaxAgeSeconds: 900, ratioThreshold: threshold, sampleMaxAgeSeconds: 10))
            sources.append((config, adapter))
        }
        let path = journal ?? FileManager.default.temporaryDirectory.appendingPathComponent("syncd-cutover-\(UUID().uuidString)/journal.sqlite").path
        let manager = SyncManager(sources: sources, journal: try SQLiteJournal(path: path), historySize: 100,
                                  metricsFactory: NOOPMetricsHandler.instance, logger: Logger(label: "test"),
                                  lagSummaryInterval: lagSummaryInterval)
        return Site(manager: manager, adapters: adapters)
    }

    static func finished(_ manager: SyncManager, _ run: CutoverRun) async throws -> CutoverRun {
        let done = await manager.cutoverRun(id: run.id, wait: 30)
        let result = try #require(done)
        try #require(result.status != .running, "the run did not finish within 30 s")
        return result
    }

    static func source(_ run: CutoverRun, _ name: String) -> SourceRun? { run.sources.first { $0.source == name } }

    static func plan(_ stages: [[CutoverStep]]) -> CutoverPlan {
        CutoverPlan(stages: stages.enumerated().map { CutoverPlan.Stage(name: "stage \($0.offset + 1)", steps: $0.element) })
    }

    @Test("every source is drained, verified and gated; the report's digest is journaled and tells a tampered copy")
    func passPathJournalsTheDigest() async throws {
        let site = try await Self.site()
        let run = try await Self.finished(site.manager, try await site.manager.startCutover(CutoverRequest(), actor: "test"))
        #expect(run.status == .pass && run.exitCode == 0, "\(run.sources.map { ($0.source, $0.reason) })")
        for source in run.sources {
            #expect(source.status == .pass)
            #expect(source.phases.map(\.phase) == [.exposure, .drain, .verify, .gate], "\(source.source): \(source.phases)")
            #expect(source.exposure?.lagSeconds == 0.5 && source.drain != nil && source.check?.status == .pass)
        }
        #expect(run.secondsToVerdict != nil && run.finishedAt != nil)

        let digest = try #require(run.reportSha256)
        #expect(try await site.manager.journaledCutoverDigest(id: run.id) == digest)
        let served = try JSONValue.from(run)
        #expect(CutoverRun.digest(ofReport: served) == digest, "the report as served hashes to the journaled digest")
        guard case var .object(fields) = served else { Issue.record("not an object"); return }
        fields["status"] = .string("fail")
        #expect(CutoverRun.digest(ofReport: .object(fields)) != digest, "an edited report no longer matches")
        let entries = try await site.manager.journal.recent(limit: 20, kind: "cutover")
        #expect(entries.map(\.action) == ["finish", "start"])
        #expect(entries.first?.outcome == "pass")
    }

    @Test("a paused source fails its drain at once with the reason; the others pass")
    func pausedSourceFailsFast() async throws {
        let site = try await Self.site()
        await site.adapters["b"]?.set(.paused)
        let started = ContinuousClock.now
        let run = try await Self.finished(site.manager, try await site.manager.startCutover(CutoverRequest(drill: true), actor: "test"))
        #expect(started.duration(to: .now) < .seconds(10))
        #expect(run.status == .fail && run.exitCode == 1 && run.drill)
        let b = try #require(Self.source(run, "b"))
        #expect(b.status == .fail && b.reason?.contains("cannot drain: paused") == true, "\(String(describing: b.reason))")
        #expect(b.phases.map(\.phase) == [.exposure, .drain] && b.check == nil, "nothing after the failed drain")
        #expect(Self.source(run, "a")?.status == .pass && Self.source(run, "c")?.status == .pass)
        #expect(run.reason?.hasPrefix("b: ") == true, "\(String(describing: run.reason))")
    }

    @Test func anOptionalSourceThatFailsDegradesTheRun() async throws {
        let site = try await Self.site()
        await site.adapters["c"]?.set(.paused)
        let plan = Self.plan([[CutoverStep(source: "a"), CutoverStep(source: "c", required: false)]])
        let run = try await Self.finished(site.manager, try await site.manager.startCutover(CutoverRequest(plan: plan), actor: "test"))
        #expect(run.status == .degraded && run.exitCode == 0)
        #expect(run.reason?.contains("optional") == true && run.sources.count == 2)
    }

    @Test func aRetriedSourcePassesOnItsSecondAttempt() async throws {
        let site = try await Self.site()
        await site.adapters["a"]?.set(drainFailures: 1)
        let plan = Self.plan([[CutoverStep(source: "a", onFailure: .retry, retries: 2, retryBackoffSeconds: 0.1)]])
        let run = try await Self.finished(site.manager, try await site.manager.startCutover(CutoverRequest(plan: plan), actor: "test"))
        let a = try #require(Self.source(run, "a"))
        #expect(run.status == .pass && a.attempts == 2, "\(a.phases)")
        #expect(a.phases.filter { $0.phase == .drain }.map(\.outcome) == ["failed", "ok"])
        #expect(await site.adapters["a"]?.drains == 2)
    }

    @Test("on_failure: abort leaves the later stages unrun, and says why")
    func abortSkipsLaterStages() async throws {
        let site = try await Self.site()
        await site.adapters["a"]?.set(.paused)
        let plan = Self.plan([[CutoverStep(source: "a", onFailure: .abort)], [CutoverStep(source: "b")]])
        let run = try await Self.finished(site.manager, try await site.manager.startCutover(CutoverRequest(plan: plan), actor: "test"))
        #expect(run.status == .fail)
        let b = try #require(Self.source(run, "b"))
        #expect(b.status == .skipped && b.reason?.contains("on_failure: abort") == true)
        #expect(await site.adapters["b"]?.drains == 0)
    }

    @Test("a cancelled run stops its checks, is journaled as cancelled and frees its sources")
    func cancelStopsTheRun() async throws {
        let site = try await Self.site(["a"])
        await site.adapters["a"]?.set(checkScopes: Self.equal, duration: .seconds(30))
        let run = try await site.manager.startCutover(CutoverRequest(), actor: "test")
        #expect(try await eventually(timeout: .seconds(10), every: .milliseconds(20)) {
            await site.manager.cutoverRun(id: run.id)?.sources.first?.phase == .verify
        })
        let cancelled = try await site.manager.cancelCutover(id: run.id, actor: "test")
        #expect(cancelled.status == .cancelled && cancelled.exitCode == 2, "\(cancelled.status)")
        #expect(cancelled.sources.first?.status == .cancelled)
        let entries = try await site.manager.journal.recent(limit: 20, kind: "cutover")
        #expect(entries.contains { $0.action == "cancel" } && entries.contains { $0.action == "finish" && $0.outcome == "cancelled" })
        await site.adapters["a"]?.set(checkScopes: Self.equal)
        let again = try await Self.finished(site.manager, try await site.manager.startCutover(CutoverRequest(), actor: "test"))
        #expect(again.status == .pass, "the source is free again")
    }

    @Test("a second run touching a source that a running run holds is refused, naming that run")
    func oneRunPerSource() async throws {
        let site = try await Self.site()
        await site.adapters["a"]?.set(checkScopes: Self.equal, duration: .seconds(30))
        let first = try await site.manager.startCutover(CutoverRequest(sources: ["a", "b"]), actor: "test")
        do {
            _ = try await site.manager.startCutover(CutoverRequest(sources: ["b", "c"]), actor: "test")
            Issue.record("the second run was accepted")
        } catch let error as SyncError {
            #expect(error.statusCode == 409 && "\(error)".contains(first.id) && "\(error)".contains("'b'"), "\(error)")
        }
        let other = try await Self.finished(site.manager, try await site.manager.startCutover(CutoverRequest(sources: ["c"]), actor: "test"))
        #expect(other.status == .pass, "a run on free sources goes ahead")
        _ = try await site.manager.cancelCutover(id: first.id, actor: "test")
    }

    @Test func badRequestsAreRefusedByName() async throws {
        let site = try await Self.site(threshold: 0.999)
        await #expect(throws: UnknownSourceError.self) { try await site.manager.startCutover(CutoverRequest(sources: ["nope"]), actor: "t") }
        let lower = Self.plan([[CutoverStep(source: "a", ratioThreshold: 0.9)]])
        do {
            _ = try await site.manager.startCutover(CutoverRequest(plan: lower), actor: "t")
            Issue.record("a plan lowering a threshold was accepted")
        } catch let error as CutoverRequestError {
            #expect(error.statusCode == 400 && error.message.contains("never lower it"), "\(error)")
        }
        await #expect(throws: CutoverRequestError.self) {
            try await site.manager.startCutover(CutoverRequest(sources: ["a"], plan: Self.plan([[CutoverStep(source: "a")]])), actor: "t")
        }
        await site.adapters["b"]?.set(capabilities: [.drain])
        do {
            _ = try await site.manager.startCutover(CutoverRequest(sources: ["b"]), actor: "t")
            Issue.record("a source without a check was accepted")
        } catch let error as CutoverRequestError {
            #expect(error.message.contains("'b'") && error.message.contains("no consistency check"), "\(error)")
        }
    }

    @Test("a source with no position to drain to skips the drain, saying so; its check is the evidence")
    func noDrainIsSkipped() async throws {
        let site = try await Self.site(["a"])
        await site.adapters["a"]?.set(capabilities: [.check])
        let run = try await Self.finished(site.manager, try await site.manager.startCutover(CutoverRequest(), actor: "t"))
        #expect(run.status == .pass)
        #expect(run.sources[0].phases.first { $0.phase == .drain }?.message?.hasPrefix("skipped") == true)
        #expect(await site.adapters["a"]?.drains == 0)
    }

    @Test("drain: false in the plan skips a drainable source's drain, saying so; the check and the gate still run")
    func aPlanSkipsTheDrain() async throws {
        let site = try await Self.site(["copy"])
        let plan = Self.plan([[CutoverStep(source: "copy", drain: false)]])
        let run = try await Self.finished(site.manager, try await site.manager.startCutover(CutoverRequest(plan: plan), actor: "t"))
        #expect(run.status == .pass, "\(String(describing: run.reason))")
        let copy = try #require(Self.source(run, "copy"))
        #expect(copy.phases.map(\.phase) == [.exposure, .drain, .verify, .gate])
        #expect(copy.phases.first { $0.phase == .drain }?.message?.contains("drain: false") == true)
        #expect(copy.drain == nil && copy.check?.status == .pass)
        #expect(await site.adapters["copy"]?.drains == 0)
    }

    @Test("a plan may raise a threshold: one differing row in a thousand passes the config's 0.999, not the plan's 1.0")
    func aRaisedThresholdIsGated() async throws {
        let site = try await Self.site(["ledger"], threshold: 0.999)
        await site.adapters["ledger"]?.set(checkScopes: [TableCheckResult(table: "t", status: .different, primaryRows: 1000, drRows: 1000, changed: 1)])
        let relaxed = try await Self.finished(site.manager, try await site.manager.startCutover(CutoverRequest(), actor: "t"))
        #expect(relaxed.status == .pass, "\(String(describing: relaxed.reason))")
        let strict = Self.plan([[CutoverStep(source: "ledger", ratioThreshold: 1.0)]])
        let run = try await Self.finished(site.manager, try await site.manager.startCutover(CutoverRequest(plan: strict), actor: "t"))
        #expect(run.status == .fail && Self.source(run, "ledger")?.reason?.hasPrefix("gate:") == true, "\(String(describing: run.reason))")
    }

    @Test("pause_after pauses a passing source, never in a drill")
    func pauseAfterAPass() async throws {
        let site = try await Self.site(["a"])
        let plan = Self.plan([[CutoverStep(source: "a", pauseAfter: true)]])
        let drill = try await Self.finished(site.manager, try await site.manager.startCutover(CutoverRequest(plan: plan, drill: true), actor: "t"))
        #expect(drill.status == .pass && drill.sources[0].paused == false)
        #expect(await site.adapters["a"]?.pauses == 0)
        let run = try await Self.finished(site.manager, try await site.manager.startCutover(CutoverRequest(plan: plan), actor: "t"))
        #expect(run.status == .pass && run.sources[0].paused && run.sources[0].phases.last?.phase == .pause)
        #expect(await site.adapters["a"]?.pauses == 1)
    }

    @Test("a run past its timeout is cancelled and reported as an error")
    func timeoutEndsTheRun() async throws {
        let site = try await Self.site(["a"])
        await site.adapters["a"]?.set(checkScopes: Self.equal, duration: .seconds(30))
        let run = try await Self.finished(site.manager, try await site.manager.startCutover(CutoverRequest(timeoutSeconds: 1), actor: "t"))
        #expect(run.status == .error && run.exitCode == 2 && run.reason?.contains("timeout") == true, "\(String(describing: run.reason))")
    }

    @Test("the exposure reaches back through the lag summaries syncd journaled: a process that just started (syncctl --config) reports the worst lag of the window, and says when nothing is on record")
    func exposureWindowComesFromTheJournal() async throws {
        let journal = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-exposure-\(UUID().uuidString)/journal.sqlite").path
        // The service: polls every 100 ms and journals a summary every 300 ms; source a lags 7.5 s for a while.
        let service = try await Self.site(["a"], journal: journal, pollInterval: 0.1, lagSummaryInterval: 0.3)
        await service.adapters["a"]?.set(lagSeconds: 7.5)
        let running = Task { try await service.manager.run() }
        try await Task.sleep(for: .milliseconds(700))
        await service.adapters["a"]?.set(lagSeconds: 0.5)
        try await Task.sleep(for: .milliseconds(700))
        running.cancel()
        _ = try? await running.value
        let journaled = try await service.manager.journal.recent(limit: 100, source: "a", kind: SyncManager.lagJournalKind)
        #expect(journaled.count >= 3, "one summary per interval, and one for the part-interval at the stop: \(journaled.count)")

        // A new process on the same journal holds one sample of its own.
        let local = try await Self.site(["a"], journal: journal)
        let run = try await Self.finished(local.manager, try await local.manager.startCutover(CutoverRequest(), actor: "t"))
        let exposure = try #require(Self.source(run, "a")?.exposure)
        #expect(exposure.lagSeconds == 0.5, "the lag now")
        #expect(exposure.worstLagSeconds == 7.5, "the worst lag in the journaled window: \(exposure)")
        #expect(exposure.journaledSummaries == journaled.count && exposure.samples == 1)
        #expect(exposure.windowSeconds >= 1.0 && exposure.worstLagAt != nil, "\(exposure)")
        #expect(exposure.note == nil, "\(String(describing: exposure.note))")

        let fresh = try await Self.site(["a"])
        let bare = try await Self.finished(fresh.manager, try await fresh.manager.startCutover(CutoverRequest(), actor: "t"))
        let none = try #require(Self.source(bare, "a")?.exposure)
        #expect(none.journaledSummaries == 0 && none.note?.contains("no exposure window is on record") == true, "\(none)")
    }

    @Test("a lag summary keeps the worst known lag, when it was seen, and how many samples had none")
    func lagSummaryOfSamples() throws {
        let start = Date(timeIntervalSince1970: 1_000_000)
        let samples = [
            Sample(time: start, state: .inSync, lagSeconds: 1, lagVolume: 10, unit: .bytes),
            Sample(time: start + 1, state: .unreachable, unit: .bytes),
            Sample(time: start + 2, state: .lagging, lagSeconds: 9, lagVolume: 900, unit: .bytes),
            Sample(time: start + 3, state: .inSync, lagSeconds: 2, lagVolume: 20, unit: .bytes),
        ]
        let summary = try #require(LagSummary(samples: samples, unit: .bytes))
        #expect(summary.samples == 4 && summary.samplesWithoutLag == 1)
        #expect(summary.worstLagSeconds == 9 && summary.worstLagAt == start + 2 && summary.worstLagVolume == 900)
        #expect(summary.from == start && summary.to == start + 3)
        #expect(LagSummary(samples: [], unit: .bytes) == nil)
    }
}
