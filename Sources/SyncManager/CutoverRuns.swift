import Foundation
import SyncCore

extension CutoverRun: BackgroundJob {
    var isRunning: Bool { status == .running }
}

/// Running and recent cutover runs, and which sources each one holds: one run at a time per source.
actor CutoverRuns {
    let board = JobBoard<CutoverRun>()
    private var holders: [String: String] = [:]

    /// Adds a run whose sources are free; refuses (409) one that touches a source another run holds.
    func reserve(_ run: CutoverRun) async throws {
        let busy = run.plan.sources.compactMap { source in holders[source].map { (source, $0) } }
        if let (source, other) = busy.first {
            throw SyncError.busy("source '\(source)' is in cutover run \(other), which is still running: wait for it (GET /v1/cutovers/\(other)) or cancel it (syncctl cutover cancel \(other))")
        }
        for source in run.plan.sources { holders[source] = run.id }
        await board.add(run)
    }

    func release(_ run: CutoverRun) {
        for source in run.plan.sources where holders[source] == run.id { holders[source] = nil }
    }
}
