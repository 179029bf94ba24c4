import ArgumentParser
import Foundation
import SyncCore
import SyncManager

struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Repair the DR side from the latest check's differences. Without --apply, print the exact plan and change nothing.",
        discussion: "Exit codes: 0 planned, or applied and converged; 1 applied but keys still differ; 2 error.")
    @OptionGroup var options: ClientOptions
    @OptionGroup var target: SourceOption
    @Flag(help: "Execute the plan on the DR side (never on the primary).")
    var apply = false
    @Flag(help: "Object stores: also delete objects that exist only in the DR bucket (kept otherwise).")
    var delete = false

    func run() async throws {
        let (path, apply) = ("/v1/sources/\(target.source)/reconcile", String(self.apply))
        let query = ["apply": apply, "delete": String(delete)]
        let response = try await options.withClient { try await $0.request("POST", path, query: query, timeout: 3600) }
        let report = try options.expectOK(response)
        let decoded = try Format.decode(report, as: ReconcileReport.self)
        print(options.json ? Format.pretty(report) : Format.reconcile(decoded))
        if let outcome = decoded.outcome, outcome.status != .pass { throw ExitCode(1) }
    }
}

extension Format {
    static func reconcile(_ report: ReconcileReport) -> String {
        let plan = report.plan
        let words = plan.words ?? .tables
        let checkTime = ISO8601DateFormatter().string(from: plan.basedOnCheck)
        var lines = ["reconcile \(report.source) (\(report.mode)): \(plan.upserts) \(words.item)(s) to copy from the primary, \(plan.deletes) to delete on the DR side, in \(plan.batches.count) batch(es); based on the check of \(checkTime)"]
        for batch in plan.batches {
            lines.append("")
            lines.append("batch \(batch.number) of \(words.scope) \(DisplayText.cell(batch.table)): \(batch.upsertKeys.count) upsert, \(batch.deleteKeys.count) delete")
            lines += batch.statements.map { "  \($0);" }
            for (label, keys) in [("upsert", batch.upsertKeys), ("delete", batch.deleteKeys)] where !keys.isEmpty {
                let shown = keys.prefix(20).map { keyText($0) }.joined(separator: " | ")
                lines.append("  \(label) keys: \(shown)\(keys.count > 20 ? " | … \(keys.count - 20) more" : "")")
            }
        }
        lines += plan.notes.map { "note: \(DisplayText.escape($0))" }
        if let outcome = report.outcome {
            lines.append("")
            lines.append("applied \(outcome.batchesApplied) batch(es): \(outcome.rowsUpserted) \(words.item)(s) upserted, \(outcome.rowsDeleted) deleted; re-verified the touched keys: \(outcome.stillDiffering) still differ (\(outcome.status.rawValue))")
        } else {
            lines.append("")
            lines.append("dry run: nothing was changed. Run again with --apply to execute.")
        }
        return lines.joined(separator: "\n")
    }
}
