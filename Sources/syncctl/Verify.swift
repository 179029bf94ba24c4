import ArgumentParser
import Foundation
import SyncCore
import SyncManager

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a consistency check (count + hash) of a source and print what differs. Exit 0 pass, 1 fail, 2 error.")
    @OptionGroup var options: ClientOptions
    @OptionGroup var target: SourceOption
    @Option(name: .customLong("table"), help: "Only this table (schema.table or table); repeatable.")
    var tables: [String] = []
    @Flag(help: "Keep going after a pass became impossible, to list every difference.")
    var fullDiff = false
    @Option(help: "How many differing keys to list (totals stay exact).")
    var maxDiffs: Int = 1000
    @Option(help: "Rounds: differing ranges are re-checked once the DR side caught up.")
    var rounds: Int = 3
    @Option(help: "Give up after this long, e.g. 30m: the check is cancelled on the servers.")
    var timeout: String = "2h"

    func validate() throws {
        guard DurationText.parse(timeout).map({ $0 > 0 }) == true else { throw ValidationError("--timeout must be a duration like 30m, got '\(timeout)'") }
        guard (1...20).contains(rounds) else { throw ValidationError("--rounds must be from 1 to 20") }
        guard maxDiffs >= 0 else { throw ValidationError("--max-diffs must not be negative") }
    }

    func run() async throws {
        var query = ["full_diff": String(fullDiff), "max_diffs": String(maxDiffs), "rounds": String(rounds)]
        if !tables.isEmpty { query["tables"] = tables.joined(separator: ",") }
        let (path, options, timeout) = ("/v1/sources/\(target.source)/check", self.options, self.timeout)
        let interactive = isatty(STDERR_FILENO) == 1
        let deadline = Date().addingTimeInterval(DurationText.parse(timeout) ?? 7200)
        let job = try await options.withClient { [query, target] client in
            let started = try options.expectOK(try await client.request("POST", path, query: query))
            guard case let .string(id)? = started["id"] else { throw CLIError(message: "syncd did not return a check id") }
            var job = started
            var lines = ProgressLines(source: target.source, interactive: interactive)
            while job["status"] == .string("running") {
                guard Date() < deadline else {
                    // A verify that gives up also stops the check: nothing keeps scanning the servers.
                    _ = try? await client.request("DELETE", "/v1/checks/\(id)")
                    throw CLIError(message: "the check did not finish within --timeout \(timeout); it was cancelled (job \(id))")
                }
                // A long poll: the answer comes the moment the check ends, or with fresh progress after 0.5 s.
                job = try options.expectOK(try await client.request("GET", "/v1/checks/\(id)", query: ["wait": "500ms"]))
                guard let reported = job["progress"] else { continue }
                let progress = try Format.decode(reported, as: CheckProgress.self)
                // Neutral words: the source's own (tables, databases, topics, buckets) come with the result.
                let current = progress.currentTable.map { ", now \(DisplayText.escape($0))" } ?? ""
                let line = "round \(progress.round) · \(progress.tablesDone) of \(progress.tablesTotal) done\(current) · \(progress.rowsCompared) compared"
                if let text = lines.text(for: line) { FileHandle.standardError.write(Data(text.utf8)) }
            }
            if let text = lines.finish() { FileHandle.standardError.write(Data(text.utf8)) }
            return job
        }
        let decoded = try Format.decode(job, as: CheckJob.self)
        guard decoded.status == .done, let result = decoded.result, let raw = job["result"] else {
            throw CLIError(message: "the check \(decoded.status == .cancelled ? "was cancelled" : "failed"): \(decoded.error ?? "no result")")
        }
        print(options.json ? Format.pretty(raw) : Format.check(result))
        guard result.status == .pass else { throw ExitCode(1) }
    }
}

/// A check's progress on stderr, whatever the output format (stdout stays the result alone):
/// redrawn in place on a terminal; on a pipe or in a log, a line per change, at most one every 2 s.
struct ProgressLines {
    let source: String
    let interactive: Bool
    static let pipeInterval: TimeInterval = 2
    private var shown = false
    private var lastLine = ""
    private var lastWritten = Date.distantPast

    init(source: String, interactive: Bool) {
        self.source = source
        self.interactive = interactive
    }

    /// What to write for the latest progress line, if anything.
    mutating func text(for line: String, now: Date = Date()) -> String? {
        if interactive {
            shown = true
            return "\r\u{1B}[K\(line)"
        }
        guard line != lastLine, now.timeIntervalSince(lastWritten) >= Self.pipeInterval else { return nil }
        lastLine = line
        lastWritten = now
        return "verify \(source): \(line)\n"
    }

    /// Clears a redrawn line before the result prints.
    func finish() -> String? {
        shown ? "\r\u{1B}[K" : nil
    }
}

extension Format {
    static func check(_ result: CheckResult) -> String {
        let words = result.words ?? .tables
        var lines = [
            "verify \(result.source): \(result.status.rawValue.uppercased())  ratio \(ratio(result.ratio)) (threshold \(ratio(result.threshold)))  count-only ratio \(ratio(result.countRatio))",
            "compared \(words.items): primary \(result.primaryRows), DR \(result.drRows);  missing \(result.missing), extra \(result.extra), changed \(result.changed)",
            "",
        ]
        let rows = result.tables.map { table -> [String] in
            let name = DisplayText.escape(table.table)
            let note = table.reason.map(DisplayText.escape) ?? ""
            // A scope the check did not reach has no counts, only its place in the list.
            if table.status == .notCompared {
                return [name, table.status.rawValue, "-", "-", "-", "-", "-", "-", "-", note]
            }
            return [name, table.status.rawValue, String(table.primaryRows), String(table.drRows), String(table.missing), String(table.extra),
                    String(table.changed), String(table.segmentsCompared), String(format: "%.2fs", table.durationSeconds), note]
        }
        lines.append(table([words.scope.uppercased(), "STATUS", "PRIMARY", "DR", "MISSING", "EXTRA", "CHANGED", words.segments.uppercased(), "TIME", "NOTE"], rows))
        if !result.diffs.isEmpty {
            lines.append("")
            lines.append(result.diffsTruncated ? "differences (first \(result.diffs.count)):" : "differences:")
            let rows = result.diffs.map { diff in
                [DisplayText.cell(diff.table), keyText(diff.key), diff.kind.rawValue, diff.detail.map(DisplayText.escape) ?? ""]
            }
            lines.append(table([words.scope.uppercased(), "KEY", "KIND", "DETAIL"], rows))
        }
        lines.append("")
        var footer = "\(result.rounds) round(s), \(String(format: "%.2f", result.durationSeconds)) s, \(number(result.rowsPerSecond)) \(words.items)/s"
        if result.stoppedEarly { footer += "; stopped early once a pass was impossible (totals are lower bounds; --full-diff lists all)" }
        lines.append(footer)
        lines += (result.blockers ?? []).map { "fails on: \(DisplayText.escape($0))" }
        lines += result.notes.map { "note: \(DisplayText.escape($0))" }
        return lines.joined(separator: "\n")
    }

    static func keyText(_ key: JSONValue?) -> String {
        guard case let .object(object)? = key else { return DisplayText.cell(string(key)) }
        // A binary key (not UTF-8) prints as its escaped bytes, the way plans print it.
        if object.count == 1, case let .string(encoded)? = object["key_base64"], let data = Data(base64Encoded: encoded) {
            return "key=\(DisplayText.cell(Array(data)))"
        }
        // Escaped and quoted: a key with a newline, an escape sequence or a decomposed accent prints as itself.
        return object.keys.sorted().map { "\($0)=\(DisplayText.cell(string(object[$0])))" }.joined(separator: ", ")
    }
}
