import Foundation
import Testing
@testable import syncctl
@testable import SyncCore
@testable import SyncManager

@Suite struct ProgressLinesTests {
    @Test("on a pipe: one line per change, at most one every 2 s, never a terminal escape")
    func pipeGetsPlainLines() {
        var lines = ProgressLines(source: "pg", interactive: false)
        let start = Date()
        #expect(lines.text(for: "round 1 · table 0/2", now: start) == "verify pg: round 1 · table 0/2\n")
        #expect(lines.text(for: "round 1 · table 0/2", now: start.addingTimeInterval(5)) == nil, "an unchanged line is not repeated")
        #expect(lines.text(for: "round 1 · table 1/2", now: start.addingTimeInterval(1)) == nil, "at most one line every 2 s")
        #expect(lines.text(for: "round 2 · table 2/2", now: start.addingTimeInterval(2.5)) == "verify pg: round 2 · table 2/2\n")
        #expect(lines.finish() == nil)
    }

    @Test("on a terminal: redrawn in place and cleared before the result")
    func terminalRedraws() {
        var lines = ProgressLines(source: "pg", interactive: true)
        #expect(lines.finish() == nil, "nothing to clear before anything was shown")
        #expect(lines.text(for: "round 1") == "\r\u{1B}[Kround 1")
        #expect(lines.text(for: "round 1") == "\r\u{1B}[Kround 1")
        #expect(lines.finish() == "\r\u{1B}[K")
    }
}

@Suite struct TableWidthTests {
    @Test("names with combining marks, wide characters and emoji are padded by terminal columns, never cut")
    func tablePadsByDisplayWidth() {
        let names = ["A\u{30A}/y.txt", "\u{65E5}\u{672C}.txt", "\u{1F600}.txt", "plain.txt"]
        let text = Format.table(["KEY", "STATUS"], names.map { [$0, "ok"] })
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 5)
        for (line, name) in zip(lines.dropFirst(), names) {
            #expect(line.hasPrefix(name), "\(line) must start with the whole name \(name)")
            // The STATUS column starts at the same terminal column on every line.
            #expect(DisplayText.width(String(line.dropLast(2))) == DisplayText.width(String(lines[0].dropLast(6))), "\(lines)")
        }
    }
}

@Suite struct StatusCheckCellTests {
    @Test("the status table's CHECK cell says when only partial checks ran or a full one stopped early")
    func checkCellShowsPartialAndIncomplete() {
        let now = Date()
        #expect(Format.checkSummary(nil, age: nil) == "none")
        #expect(Format.checkSummary(CheckSummary(finishedAt: now, ratio: 1, countRatio: 1, partial: false, complete: true), age: 12) == "1.0000000, 12.0 s ago")
        #expect(Format.checkSummary(CheckSummary(finishedAt: now, ratio: 0.5, countRatio: 1, partial: true, complete: true), age: 3) == "0.5000000, 3.0 s ago, partial")
        #expect(Format.checkSummary(CheckSummary(finishedAt: now, ratio: nil, countRatio: nil, partial: false, complete: false), age: nil) == "-, incomplete")
        #expect(Format.checkSummary(CheckSummary(finishedAt: now, ratio: nil, countRatio: nil, error: "boom"), age: nil) == "error")
    }
}

@Suite struct CheckTextTests {
    static func redisResult(stoppedEarly: Bool = false) throws -> CheckResult {
        let keys: [[UInt8]] = [Array("line\nbreak".utf8), Array("tab\there".utf8), Array("esc\u{1B}[31m".utf8), Array("with space".utf8), [0x66, 0xFF]]
        let diffs = keys.map { bytes -> Diff in
            let key: JSONValue = String(validating: bytes, as: UTF8.self).map { .object(["key": .string($0)]) }
                ?? .object(["key_base64": .string(Data(bytes).base64EncodedString())])
            return Diff(table: "db0", key: key, kind: .missing, detail: "not on the DR side")
        }
        let result = CheckResult(source: "cache", threshold: 0.99999,
                                 tables: [TableCheckResult(table: "db0", status: .different, primaryRows: 10, drRows: 5, missing: 5, segmentsCompared: 1),
                                          TableCheckResult(table: "db1", status: .notCompared, reason: "not compared: the check stopped early")],
                                 diffs: diffs, diffsTruncated: false, rounds: 1, stoppedEarly: stoppedEarly,
                                 startedAt: Date(), finishedAt: Date(), words: SourceWords(scope: "database", scopes: "databases", item: "key", items: "keys", segments: "batches"))
        // Through JSON and back, as syncctl gets it from syncd.
        return try JSONValue.from(result).decoded(as: CheckResult.self)
    }

    @Test("a Redis result speaks of databases, keys and batches; every scope is listed, the ones not compared marked")
    func redisWords() throws {
        let text = Format.check(try Self.redisResult(stoppedEarly: true))
        #expect(text.contains("DATABASE  STATUS"), "\(text)")
        #expect(text.contains("BATCHES"))
        #expect(text.contains("compared keys: primary 10, DR 5"))
        #expect(text.contains("keys/s"))
        #expect(!text.contains("TABLE") && !text.contains("rows/s") && !text.contains("SEGMENTS"), "\(text)")
        let notCompared = try #require(text.split(separator: "\n").first { $0.hasPrefix("db1 ") })
        #expect(notCompared.contains("not_compared") && notCompared.contains("-") && notCompared.contains("stopped early"), "\(notCompared)")
    }

    @Test("keys with control characters, spaces or invalid bytes never break the table: escaped as JSON escapes them, quoted when spaced")
    func keysAreEscaped() throws {
        let text = Format.check(try Self.redisResult())
        #expect(text.contains("key=line\\nbreak"), "\(text)")
        #expect(text.contains("key=tab\\there"))
        #expect(text.contains("key=esc\\u001b[31m"))
        #expect(text.contains("key=\"with space\""))
        #expect(text.contains("key=f\\xFF") || text.contains("key=f\\xff"), "\(text)")
        #expect(!text.contains("\u{1B}") && !text.contains("\t"), "no raw control character reaches the terminal")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.filter { $0.contains("not on the DR side") }.count == 5, "one line per difference")
    }

    @Test("a plan prints each key one way: its statements and its key list alike")
    func planPrintsEachKeyOneWay() throws {
        let escaped = DisplayText.cell(Array("line\nbreak".utf8))
        let plan = ReconcilePlan(source: "cache", basedOnCheck: Date(), batches: [
            ReconcileBatch(table: "db0", number: 1, upsertKeys: [.object(["key": .string("line\nbreak")])], deleteKeys: [],
                           statements: ["RESTORE \(escaped) <PTTL> <DUMP \(escaped)> REPLACE"]),
        ], words: SourceWords(scope: "database", scopes: "databases", item: "key", items: "keys", segments: "batches"))
        let report = try JSONValue.from(ReconcileReport(source: "cache", mode: "dry-run", plan: plan, outcome: nil)).decoded(as: ReconcileReport.self)
        let text = Format.reconcile(report)
        #expect(text.contains("1 key(s) to copy"), "\(text)")
        #expect(text.contains("batch 1 of database db0"))
        #expect(text.contains("RESTORE line\\nbreak"))
        #expect(text.contains("upsert keys: key=line\\nbreak"))
        #expect(!text.contains("base64"), "\(text)")
    }
}

@Suite struct ConfigModeMessageTests {
    @Test("with --config, the commands a message suggests carry the same --config")
    func suggestedCommandsCarryTheConfig() {
        #expect(ClientOptions.suggestingConfig("no consistency check has run for 'pg': run syncctl verify --source pg first", config: "config/syncd.yaml")
                == "no consistency check has run for 'pg': run syncctl verify --config config/syncd.yaml --source pg first")
        #expect(ClientOptions.suggestingConfig("use syncctl resync --source a, then syncctl verify --source a", config: "/etc/my syncd.yaml")
                == "use syncctl resync --config '/etc/my syncd.yaml' --source a, then syncctl verify --config '/etc/my syncd.yaml' --source a")
        #expect(ClientOptions.suggestingConfig("nothing to suggest", config: "x.yaml") == "nothing to suggest")
    }
}
