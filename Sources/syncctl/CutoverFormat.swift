import Foundation
import SyncCore
import SyncManager

/// A cutover's progress on stderr: one line per source, redrawn in place on a terminal; on a pipe
/// or in a log, the lines that changed, at most every 2 s.
struct CutoverBoard {
    let interactive: Bool
    private var drawn = 0
    private var last: [String: String] = [:]
    private var lastWritten = Date.distantPast

    init(interactive: Bool) { self.interactive = interactive }

    static func line(_ source: SourceRun, now: Date, startedAt: Date) -> String {
        var parts = ["\(DisplayText.escape(source.source)): \(source.status == .running ? source.phase.rawValue : source.status.rawValue)"]
        if source.status == .running, source.phase == .verify, let progress = source.progress {
            let words = source.check?.words ?? SourceWords.tables
            parts.append("\(progress.rowsCompared) compared, \(progress.tablesDone) of \(progress.tablesTotal) \(words.scopes)")
        }
        if source.attempts > 1 { parts.append("attempt \(source.attempts)") }
        parts.append(source.status == .running ? "\(Format.seconds(now.timeIntervalSince(startedAt))) s" : "\(Format.seconds(source.seconds)) s")
        return parts.joined(separator: " · ")
    }

    mutating func text(for run: CutoverRun, now: Date = Date()) -> String? {
        let lines = run.sources.map { (name: $0.source, text: Self.line($0, now: now, startedAt: run.startedAt)) }
        if interactive {
            // Back to the first line, then every line cleared and rewritten.
            var out = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
            for line in lines { out += "\r\u{1B}[K" + line.text + "\n" }
            drawn = lines.count
            return out
        }
        guard now.timeIntervalSince(lastWritten) >= 2 else { return nil }
        let changed = lines.filter { last[$0.name] != $0.text }
        guard !changed.isEmpty else { return nil }
        for line in changed { last[line.name] = line.text }
        lastWritten = now
        return changed.map { "cutover \($0.text)\n" }.joined()
    }

    func finish() -> String? { nil }
}

extension Format {
    static func cutover(_ run: CutoverRun) -> String {
        var out = "cutover \(run.id)\(run.drill ? " (drill: nothing was changed on any server)" : ""): \(run.status.rawValue.uppercased())"
        if let seconds = run.secondsToVerdict { out += " in \(Format.seconds(seconds)) s" }
        out += "\n"
        let rows = run.sources.map { source -> [String] in
            let exposure = source.exposure
            let phase = { (name: CutoverPhase) in source.phases.last { $0.phase == name }.map { Format.seconds($0.seconds) } ?? "-" }
            return [DisplayText.escape(source.source), source.kind.rawValue, DisplayText.escape(source.stage), source.step.required ? "yes" : "no",
                    source.status.rawValue, Format.seconds(exposure?.lagSeconds), Format.seconds(exposure?.worstLagSeconds),
                    phase(.drain), phase(.verify), source.check.map { Format.ratio($0.ratio) } ?? "-", Format.seconds(source.seconds)]
        }
        out += table(["SOURCE", "KIND", "STAGE", "REQUIRED", "STATUS", "LAG(s)", "WORST LAG(s)", "DRAIN(s)", "VERIFY(s)", "RATIO", "TIME(s)"], rows)
        out += "\n"
        for source in run.sources where source.status != .pass {
            out += "\n\(DisplayText.escape(source.source)): \(source.status.rawValue): \(DisplayText.escape(source.reason ?? "-"))"
        }
        for source in run.sources where source.paused {
            out += "\n\(DisplayText.escape(source.source)): replication is paused (pause_after)"
        }
        for source in run.sources {
            if let note = source.exposure?.note { out += "\n\(DisplayText.escape(source.source)): exposure: \(note)"; break }
        }
        if let reason = run.reason, run.status != .pass { out += "\n\nverdict: \(DisplayText.escape(reason))" }
        out += "\n\nconfig sha256 \(run.configDigest)"
        if let digest = run.reportSha256 { out += "\nreport sha256 \(digest) (journaled; check a saved report with syncctl cutover verify-report FILE)" }
        return out
    }

    /// The Markdown file of `--report`: the summary for people, then the report itself as JSON (what
    /// `verify-report` hashes) and its digest.
    static func cutoverMarkdown(_ run: CutoverRun, raw: JSONValue) -> String {
        var out = "# Cutover \(run.id)\(run.drill ? " (drill)" : "")\n\n"
        out += "- verdict: **\(run.status.rawValue)**\(run.reason.map { " — \(markdownEscape($0))" } ?? "")\n"
        out += "- started \(ISO8601DateFormatter().string(from: run.startedAt))"
        if let seconds = run.secondsToVerdict { out += ", verdict after \(Format.seconds(seconds)) s" }
        out += "\n- by \(markdownEscape(run.actor)); config sha256 `\(run.configDigest)`\n\n"
        out += "| source | kind | stage | required | status | lag at start (s) | worst lag (s) | window (s) | drain (s) | verify (s) | ratio |\n"
        out += "|---|---|---|---|---|---|---|---|---|---|---|\n"
        for source in run.sources {
            let phase = { (name: CutoverPhase) in source.phases.last { $0.phase == name }.map { Format.seconds($0.seconds) } ?? "-" }
            let cells = [source.source, source.kind.rawValue, source.stage, source.step.required ? "yes" : "no", source.status.rawValue,
                         Format.seconds(source.exposure?.lagSeconds), Format.seconds(source.exposure?.worstLagSeconds),
                         Format.seconds(source.exposure?.windowSeconds), phase(.drain), phase(.verify),
                         source.check.map { Format.ratio($0.ratio) } ?? "-"]
            out += "| " + cells.map(markdownEscape).joined(separator: " | ") + " |\n"
        }
        for source in run.sources where source.status != .pass || !source.gateReasons.isEmpty {
            out += "\n## \(markdownEscape(source.source)): \(source.status.rawValue)\n\n"
            if let reason = source.reason { out += "\(markdownEscape(reason))\n\n" }
            for reason in source.gateReasons { out += "- gate: \(markdownEscape(reason))\n" }
        }
        out += "\n## Report\n\nThe JSON below is the report; its SHA-256 (RFC 8785 canonical JSON, without `report_sha256`) is journaled with the run.\n\n"
        out += "```json\n\(Format.pretty(raw))\n```\n\n"
        out += "report sha256: `\(run.reportSha256 ?? "not journaled")`\n"
        return out
    }

    static func markdownEscape(_ text: String) -> String {
        DisplayText.escape(text).replacingOccurrences(of: "|", with: "\\|")
    }

    /// The report in a file: the file itself as JSON, or the JSON block of the Markdown form.
    static func reportJSON(in text: String) -> JSONValue? {
        if let value = try? JSONCoding.decoder.decode(JSONValue.self, from: Data(text.utf8)), value["id"] != nil { return value }
        guard let start = text.range(of: "```json\n"), let end = text.range(of: "\n```", range: start.upperBound..<text.endIndex) else { return nil }
        return try? JSONCoding.decoder.decode(JSONValue.self, from: Data(text[start.upperBound..<end.lowerBound].utf8))
    }
}
