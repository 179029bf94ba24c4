import ArgumentParser
import Foundation
import SyncCore

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
        print(options.json ? Format.pretty(report) : Format.reconcile(report))
        if let outcome = report["outcome"], outcome["status"] != .string("pass") { throw ExitCode(1) }
    }
}

extension Format {
    static func reconcile(_ report: JSONValue) -> String {
        let plan = report["plan"]
        let words = words(plan?["words"])
        var lines = ["reconcile \(string(report["source"])) (\(string(report["mode"]))): \(string(plan?["upserts"])) \(words.item)(s) to copy from the primary, \(string(plan?["deletes"])) to delete on the DR side, in \(countOf(plan?["batches"])) batch(es); based on the check of \(string(plan?["based_on_check"]))"]
        if case let .array(batches)? = plan?["batches"] {
            for batch in batches {
                lines.append("")
                lines.append("batch \(string(batch["number"])) of \(words.scope) \(DisplayText.cell(string(batch["table"]))): \(countOf(batch["upsert_keys"])) upsert, \(countOf(batch["delete_keys"])) delete")
                if case let .array(statements)? = batch["statements"] { lines += statements.map { "  \(string($0));" } }
                for (label, field) in [("upsert", "upsert_keys"), ("delete", "delete_keys")] {
                    guard case let .array(keys)? = batch[field], !keys.isEmpty else { continue }
                    let shown = keys.prefix(20).map { keyText($0) }.joined(separator: " | ")
                    lines.append("  \(label) keys: \(shown)\(keys.count > 20 ? " | … \(keys.count - 20) more" : "")")
                }
            }
        }
        if case let .array(notes)? = plan?["notes"] { lines += notes.map { "note: \(string($0))" } }
        if let outcome = report["outcome"] {
            lines.append("")
            lines.append("applied \(string(outcome["batches_applied"])) batch(es): \(string(outcome["rows_upserted"])) \(words.item)(s) upserted, \(string(outcome["rows_deleted"])) deleted; re-verified the touched keys: \(string(outcome["still_differing"])) still differ (\(string(outcome["status"])))")
        } else {
            lines.append("")
            lines.append("dry run: nothing was changed. Run again with --apply to execute.")
        }
        return lines.joined(separator: "\n")
    }

    static func countOf(_ value: JSONValue?) -> Int {
        if case let .array(items)? = value { return items.count }
        return 0
    }
}
