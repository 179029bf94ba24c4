import ArgumentParser
import Foundation
import SyncCore

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
                guard let progress = job["progress"] else { continue }
                let line = "round \(Format.string(progress["round"])) · table \(Format.string(progress["tables_done"]))/\(Format.string(progress["tables_total"])) \(Format.string(progress["current_table"])) · \(Format.string(progress["rows_compared"])) rows compared"
                if let text = lines.text(for: line) { FileHandle.standardError.write(Data(text.utf8)) }
            }
            if let text = lines.finish() { FileHandle.standardError.write(Data(text.utf8)) }
            return job
        }
        guard job["status"] == .string("done"), let result = job["result"] else {
            throw CLIError(message: "the check failed: \(Format.string(job["error"]))")
        }
        print(options.json ? Format.pretty(result) : Format.check(result))
        guard result["status"] == .string("pass") else { throw ExitCode(1) }
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
    static func ratio(_ value: JSONValue?) -> String {
        guard case let .number(number)? = value else { return "-" }
        return String(format: "%.7f", number)
    }

    static func check(_ result: JSONValue) -> String {
        let words = words(result["words"])
        var lines = [
            "verify \(string(result["source"])): \(string(result["status"]).uppercased())  ratio \(ratio(result["ratio"])) (threshold \(ratio(result["threshold"])))  count-only ratio \(ratio(result["count_ratio"]))",
            "compared \(words.items): primary \(string(result["primary_rows"])), DR \(string(result["dr_rows"]));  missing \(string(result["missing"])), extra \(string(result["extra"])), changed \(string(result["changed"]))",
            "",
        ]
        if case let .array(tables)? = result["tables"] {
            let rows = tables.map { table -> [String] in
                let name = DisplayText.cell(string(table["table"]))
                let note = table["reason"].map { DisplayText.escape(string($0)) } ?? ""
                // A scope the check did not reach has no counts, only its place in the list.
                if table["status"] == .string(TableCheckStatus.notCompared.rawValue) {
                    return [name, string(table["status"]), "-", "-", "-", "-", "-", "-", "-", note]
                }
                return [name, string(table["status"]), string(table["primary_rows"]), string(table["dr_rows"]),
                        string(table["missing"]), string(table["extra"]), string(table["changed"]), string(table["segments_compared"]),
                        String(format: "%.2fs", { if case let .number(n)? = table["duration_seconds"] { return n }; return 0 }()), note]
            }
            lines.append(table([words.scope.uppercased(), "STATUS", "PRIMARY", "DR", "MISSING", "EXTRA", "CHANGED", words.segments.uppercased(), "TIME", "NOTE"], rows))
        }
        if case let .array(diffs)? = result["diffs"], !diffs.isEmpty {
            lines.append("")
            lines.append(result["diffs_truncated"] == .bool(true) ? "differences (first \(diffs.count)):" : "differences:")
            let rows = diffs.map { diff in
                [DisplayText.cell(string(diff["table"])), keyText(diff["key"]), string(diff["kind"]), diff["detail"].map { DisplayText.escape(string($0)) } ?? ""]
            }
            lines.append(table([words.scope.uppercased(), "KEY", "KIND", "DETAIL"], rows))
        }
        lines.append("")
        var footer = "\(string(result["rounds"])) round(s), \(String(format: "%.2f", { if case let .number(n)? = result["duration_seconds"] { return n }; return 0 }())) s, \(string(result["rows_per_second"])) \(words.items)/s"
        if result["stopped_early"] == .bool(true) { footer += "; stopped early once a pass was impossible (totals are lower bounds; --full-diff lists all)" }
        lines.append(footer)
        if case let .array(notes)? = result["notes"] { lines += notes.map { "note: \(DisplayText.escape(string($0)))" } }
        return lines.joined(separator: "\n")
    }

    /// The source's words from a result or plan; PostgreSQL's for results written before words existed.
    static func words(_ value: JSONValue?) -> SourceWords {
        guard let value, let data = try? JSONCoding.encoder.encode(value),
              let words = try? JSONCoding.decoder.decode(SourceWords.self, from: data) else { return .tables }
        return words
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
