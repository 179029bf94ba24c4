import Foundation
import Testing
@testable import SyncCore

@Suite struct ScopeGateTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = GatePolicy(lagBudgetSeconds: 30, checkMaxAgeSeconds: 900, ratioThreshold: 0.99999, sampleMaxAgeSeconds: 10)

    func result(_ tables: [TableCheckResult], partial: Bool = false, stoppedEarly: Bool = false, age: Double = 60) -> CheckResult {
        var result = CheckResult(source: "pg", threshold: 0.99999, tables: tables, diffs: [], diffsTruncated: false, rounds: 1,
                                 stoppedEarly: stoppedEarly, startedAt: now.addingTimeInterval(-age - 1), finishedAt: now.addingTimeInterval(-age))
        result.partial = partial
        return result
    }

    func table(_ name: String, rows: Int64 = 1000, changed: Int64 = 0) -> TableCheckResult {
        TableCheckResult(table: name, status: changed == 0 ? .equal : .different, primaryRows: rows, drRows: rows, changed: changed)
    }

    func verdict(_ summary: CheckSummary?) -> SourceVerdict {
        let sample = Sample(time: now, state: .inSync, lagSeconds: 0, lagVolume: 0, unit: .bytes)
        return Gate.evaluate(source: "pg", policy: policy, sample: sample, check: summary, now: now)
    }

    @Test func aPartialCheckOfTheGoodScopeDoesNotPassADifferingOne() {
        let full = result([table("a", changed: 40), table("b")]).summary
        let partial = result([table("b")], partial: true, age: 5).summary
        let merged = full.merging(partial)
        #expect(merged.scopes?.map(\.scope) == ["a", "b"])
        let judged = verdict(merged)
        #expect(judged.status == .fail)
        #expect(judged.reasons.contains { $0.hasPrefix("a: consistency ratio") }, "\(judged.reasons)")
        #expect(judged.ratio == 0.96, "the lowest scope's ratio")
        #expect(judged.checkAgeSeconds == 60, "the oldest scope's age")
    }

    @Test func partialChecksUpdateTheirScopesOnly() {
        let full = result([table("a", changed: 40), table("b")], age: 100).summary
        let fixed = full.merging(result([table("a")], partial: true, age: 5).summary)
        #expect(verdict(fixed).status == .pass, "\(verdict(fixed).reasons)")
        #expect(verdict(fixed).checkAgeSeconds == 100, "b was last checked 100 s ago")
        let stale = result([table("a"), table("b")], age: 1000).summary.merging(result([table("a")], partial: true, age: 5).summary)
        #expect(verdict(stale).reasons.contains { $0.hasPrefix("b: latest consistency check is") }, "\(verdict(stale).reasons)")
    }

    @Test func onlyPartialChecksOrAStoppedEarlyFullOneAreIncomplete() {
        let partialOnly = result([table("a")], partial: true).summary
        #expect(partialOnly.complete == false)
        #expect(verdict(partialOnly).status == .fail)
        let stopped = result([table("a", changed: 600), table("b")], stoppedEarly: true).summary
        #expect(stopped.complete == false)
        #expect(stopped.scopes?.first?.error?.contains("not compared to the end") == true, "a lower bound is not a ratio")
        let afterFix = stopped.merging(result([table("a")], partial: true).summary)
        #expect(verdict(afterFix).status == .fail, "scopes the early stop did not compare are unchecked")
        let complete = afterFix.merging(result([table("a"), table("b")]).summary)
        #expect(verdict(complete).status == .pass, "a full check replaces the record")
    }

    @Test func scopesAreTheirBytes() {
        let nfc = "caf\u{E9}", nfd = "cafe\u{301}"
        let full = result([table(nfc), table(nfd, changed: 500)]).summary
        let merged = full.merging(result([table(nfc)], partial: true).summary)
        #expect(merged.scopes?.count == 2, "the NFD scope is not replaced by the NFC one")
        #expect(verdict(merged).status == .fail)
    }

    @Test func aFailedPartialCheckFailsUntilAFullOne() {
        let full = result([table("a")]).summary
        let failed = CheckSummary(finishedAt: now, ratio: nil, countRatio: nil, error: "DR unreachable", scopes: [], partial: true, complete: false)
        let merged = full.merging(failed)
        #expect(verdict(merged).status == .fail)
        #expect(verdict(merged.merging(result([table("a")]).summary)).status == .pass)
    }

    @Test func aCheckResultFailsWhenAnyScopeIsBelowTheThreshold() {
        // 1 difference in 10 rows, beside a million equal rows: the total is above the threshold.
        let mixed = result([table("small", rows: 10, changed: 1), table("big", rows: 1_000_000)])
        #expect(mixed.ratio >= 0.99999)
        #expect(mixed.status == .fail)
    }

    @Test func legacySummariesWithoutScopesStillDecodeAndJudge() throws {
        let json = #"{"finished_at":"2027-01-15T08:00:00Z","ratio":1,"count_ratio":1}"#
        let summary = try JSONCoding.typedDecoder.decode(CheckSummary.self, from: Data(json.utf8))
        #expect(summary.scopes == nil && summary.partial == nil)
    }
}

@Suite struct DisplayTextTests {
    @Test func controlCharactersAreEscapedAsJSONDoes() {
        #expect(DisplayText.escape("a\nb\tc\r\u{1B}[31m") == "a\\nb\\tc\\r\\u001b[31m")
        #expect(DisplayText.escape("back\\slash") == "back\\\\slash", "so a literal \\n never prints like a newline")
        #expect(DisplayText.escape("\u{202E}evil") == "\\u202eevil", "bidi overrides are shown")
    }

    @Test func decomposedTextShowsItsCombiningMarks() {
        #expect(DisplayText.escape("caf\u{E9}") == "caf\u{E9}")
        #expect(DisplayText.escape("cafe\u{301}") == "cafe\\u0301")
        #expect(DisplayText.escape("caf\u{E9}") != DisplayText.escape("cafe\u{301}"))
    }

    @Test func invalidUTF8ShowsItsBytes() {
        #expect(DisplayText.escape([0x61, 0xFF, 0x62]) == "a\\xffb")
        #expect(ByteKey([0x61, 0xC3]).description == "a\\xc3")
    }

    @Test func keysWithSpacesAreQuoted() {
        #expect(DisplayText.cell("two words") == "\"two words\"")
        #expect(DisplayText.cell("plain") == "plain")
        #expect(DisplayText.cell("") == "\"\"")
    }

    @Test func widthsAreTerminalColumns() {
        #expect(DisplayText.width("Å/y.txt") == 7)
        #expect(DisplayText.width("A\u{30A}/y.txt") == 7, "a combining mark takes no column")
        #expect(DisplayText.width("日本") == 4)
        #expect(DisplayText.width("🙂x") == 3)
        #expect(DisplayText.pad("A\u{30A}", to: 3) == "A\u{30A}  ")
    }

    @Test func byteKeysCompareAsBytes() {
        let nfc = ByteKey("caf\u{E9}"), nfd = ByteKey("cafe\u{301}")
        #expect(nfc != nfd)
        #expect(Set([nfc, nfd]).count == 2)
        #expect(nfd < nfc, "UTF-8 byte order: 'e' (0x65) before 0xC3")
        #expect(nfd.string == "cafe\u{301}" && nfd.string?.utf8.count == 6)
    }
}
