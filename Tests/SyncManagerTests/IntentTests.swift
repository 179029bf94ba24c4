import Foundation
import Logging
import Metrics
import SQLiteJournal
import Testing
@testable import SyncCore
@testable import SyncManager
import TestSupport

/// Intent before effect, and what a start makes of a process that died half-way.
@Suite struct IntentTests {
    static func path() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("syncd-intent-\(UUID().uuidString)/journal.sqlite").path
    }

    @Test("a check and a control action journal their start before they run, and their end names the same operation")
    func startAndEndShareTheOperation() async throws {
        let site = try await CutoverTests.site(["pg"])
        _ = try await site.manager.check(source: "pg", options: CheckOptions(), actor: "t")
        _ = try await site.manager.control(.pause, source: "pg", actor: "t")
        for kind in ["check", "control"] {
            let entries = try await site.manager.journal.recent(limit: 10, kind: kind)
            #expect(entries.count == 2 && entries[1].outcome == "started" && entries[0].outcome != "started", "\(kind): \(entries.map(\.outcome))")
            #expect(entries[0].detail?["operation"] != nil && entries[0].detail?["operation"] == entries[1].detail?["operation"])
        }
    }

    @Test("a reconcile --apply whose process was killed: the next start journals the unclean stop and the interrupted reconcile, and the gate fails until a new check passes")
    func killedReconcileFailsTheGate() async throws {
        let path = Self.path()
        // The process that died: it started, passed a check, began applying a reconcile, and never wrote its end.
        do {
            let site = try await CutoverTests.site(["pg"], journal: path)
            try await site.manager.journal.append(kind: "service", source: nil, actor: "syncd", action: "start", outcome: "ok")
            _ = try await site.manager.check(source: "pg", options: CheckOptions(), actor: "t")
            _ = try await site.manager.journalIntent(kind: "reconcile", source: "pg", actor: "admin-token", action: "apply",
                                                     detail: ["upserts": .number(2000)])
        }
        let site = try await CutoverTests.site(["pg"], journal: path)
        try await site.manager.journal.append(kind: "service", source: nil, actor: "syncd", action: "start", outcome: "ok")
        await site.manager.restoreLatestChecks()
        let recovery = try await site.manager.recoverFromPreviousRun()
        #expect(recovery.uncleanStop && recovery.interrupted.map(\.kind) == ["reconcile"], "\(recovery)")
        let service = try await site.manager.journal.recent(limit: 5, kind: "service")
        #expect(service.first?.action == "unclean-stop", "\(service.map(\.action))")
        let reconcile = try await site.manager.journal.recent(limit: 5, kind: "reconcile")
        #expect(reconcile.first?.outcome == "interrupted")

        await site.adapters["pg"]?.set(lagSeconds: 0)
        _ = await site.manager.monitors[0].freshSample()
        let failing = try await site.manager.evaluateGate(sources: ["pg"], actor: "t")
        #expect(failing.status == .fail, "\(failing)")
        #expect(failing.sources[0].reasons.joined().contains("reconcile --apply started at"), "\(failing.sources[0].reasons)")
        // It holds across another restart: the record is a journaled (failed) check.
        let again = try await CutoverTests.site(["pg"], journal: path)
        await again.manager.restoreLatestChecks()
        _ = await again.manager.monitors[0].freshSample()
        #expect(try await again.manager.evaluateGate(sources: ["pg"], actor: "t").status == .fail)
        #expect(try await again.manager.recoverFromPreviousRun().interrupted.isEmpty, "reported once, not at every start")

        _ = try await again.manager.check(source: "pg", options: CheckOptions(), actor: "t")
        #expect(try await again.manager.evaluateGate(sources: ["pg"], actor: "t").status == .pass, "a new check clears it")
    }

    @Test("a clean stop between two starts is not an unclean stop")
    func cleanStop() async throws {
        let path = Self.path()
        let site = try await CutoverTests.site(["pg"], journal: path)
        for action in ["start", "stop", "start"] {
            try await site.manager.journal.append(kind: "service", source: nil, actor: "syncd", action: action, outcome: "ok")
        }
        let recovery = try await site.manager.recoverFromPreviousRun()
        #expect(!recovery.uncleanStop && recovery.interrupted.isEmpty)
        #expect(try await site.manager.journal.recent(limit: 5, kind: "service").count == 3, "nothing journaled")
    }
}
