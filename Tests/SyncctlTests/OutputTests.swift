import Foundation
import Testing
@testable import syncctl
@testable import SyncCore

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
        #expect(Format.checkSummary(nil, age: nil) == "none")
        #expect(Format.checkSummary(.object(["ratio": .number(1), "partial": .bool(false), "complete": .bool(true)]), age: .number(12)) == "1.0000000, 12.0 s ago")
        #expect(Format.checkSummary(.object(["ratio": .number(0.5), "partial": .bool(true), "complete": .bool(true)]), age: .number(3)) == "0.5000000, 3.0 s ago, partial")
        #expect(Format.checkSummary(.object(["ratio": .null, "partial": .bool(false), "complete": .bool(false)]), age: nil) == "-, incomplete")
        #expect(Format.checkSummary(.object(["error": .string("boom")]), age: nil) == "error")
    }
}
