import Foundation
import Testing
@testable import SyncCore

@Suite struct RatioTests {
    @Test func strictRatioCountsEveryDifferingUnit() {
        #expect(Ratio.strict(differing: 0, primary: 100_000) == 1)
        #expect(Ratio.strict(differing: 1, primary: 100_000) == 0.99999)
        #expect(Ratio.strict(differing: 3, primary: 0) == 0, "an empty primary with differences never passes")
        #expect(Ratio.strict(differing: 500, primary: 10) == 0, "never below zero")
    }

    @Test func countOnlyRatioIsTheSeedFormula() {
        #expect(Ratio.countOnly(primary: 1000, dr: 990) == 0.99)
        #expect(Ratio.countOnly(primary: 1000, dr: 1010) == 0.99)
        #expect(Ratio.countOnly(primary: 0, dr: 0) == 1)
        #expect(Ratio.countOnly(primary: 0, dr: 5) == 0)
    }

    @Test func allowedDifferencesMatchesTheThreshold() {
        #expect(Ratio.allowedDifferences(primary: 100_000, threshold: 0.99999) == 1)
        #expect(Ratio.allowedDifferences(primary: 99_999, threshold: 0.99999) == 0)
        #expect(Ratio.allowedDifferences(primary: 1_000_000, threshold: 0.99999) == 10)
        #expect(Ratio.allowedDifferences(primary: 1_000_000, threshold: 1.0) == 0)
        // Consistent with the strict ratio at the boundary.
        #expect(Ratio.strict(differing: 10, primary: 1_000_000) >= 0.99999)
        #expect(Ratio.strict(differing: 11, primary: 1_000_000) < 0.99999)
    }
}

@Suite struct CheckResultTests {
    let start = Date(timeIntervalSince1970: 1_000)

    @Test func totalsAndStatusComeFromComparedTablesOnly() {
        let tables = [
            TableCheckResult(table: "a", status: .equal, primaryRows: 600_000, drRows: 600_000),
            TableCheckResult(table: "b", status: .different, primaryRows: 400_000, drRows: 399_999, missing: 4, extra: 3, changed: 2),
            TableCheckResult(table: "c", status: .skipped, reason: "no primary key", primaryRows: 5, drRows: 9),
        ]
        let result = CheckResult(source: "pg", threshold: 0.99999, tables: tables, diffs: [], diffsTruncated: false, rounds: 2,
                                 stoppedEarly: false, startedAt: start, finishedAt: start.addingTimeInterval(4))
        #expect(result.primaryRows == 1_000_000)
        #expect(result.drRows == 999_999)
        #expect((result.missing, result.extra, result.changed) == (4, 3, 2))
        #expect(result.ratio == 1 - 9.0 / 1_000_000)
        #expect(result.countRatio == 1 - 1.0 / 1_000_000)
        #expect(result.status == .fail, "9 of 1M differ, within 0.99999 in total, but table b alone (9 of 400k) is below it")
        #expect(result.rowsPerSecond == 1_999_999.0 / 4)
        #expect(result.summary.ratio == tables[1].ratio, "the gate's ratio is the lowest scope's")
        #expect(result.summary.scopes?.map(\.scope) == ["a", "b"], "a skipped table is no scope the gate judges")
        #expect(result.summary.error == nil)
        #expect(tables[1].ratio == 1 - 9.0 / 400_000)
    }

    @Test func aTableErrorFailsTheCheckAndTheGate() {
        let tables = [TableCheckResult(table: "a", status: .error, reason: "the DR side's columns differ: column x is missing")]
        let result = CheckResult(source: "pg", threshold: 0.99999, tables: tables, diffs: [], diffsTruncated: false, rounds: 1,
                                 stoppedEarly: false, startedAt: start, finishedAt: start)
        #expect(result.status == .fail)
        #expect(result.summary.ratio == nil)
        #expect(result.summary.scopes?.first?.error == "check failed: the DR side's columns differ: column x is missing")
    }

    @Test func resultRoundTripsThroughItsJSONKeepingKeyColumnNames() throws {
        let result = CheckResult(source: "pg", threshold: 0.99999,
                                 tables: [TableCheckResult(table: "public.t", status: .different, primaryRows: 10, drRows: 9, missing: 1)],
                                 diffs: [Diff(table: "public.t", key: .object(["account_id": .number(7), "Region_Code": .string("x")]), kind: .missing)],
                                 diffsTruncated: false, rounds: 3, stoppedEarly: false, startedAt: start, finishedAt: start, notes: ["n"])
        let data = try JSONCoding.encoder.encode(result)
        let decoded = try JSONCoding.typedDecoder.decode(CheckResult.self, from: data)
        #expect(decoded == result)
    }

    @Test func resultJSONHasTheFieldsPipelinesRead() throws {
        let result = CheckResult(source: "pg", threshold: 0.99999,
                                 tables: [TableCheckResult(table: "public.t", status: .different, primaryRows: 10, drRows: 9, missing: 1)],
                                 diffs: [Diff(table: "public.t", key: .object(["id": .number(7)]), kind: .missing)],
                                 diffsTruncated: false, rounds: 3, stoppedEarly: false, startedAt: start, finishedAt: start)
        let json = try JSONValue.from(result)
        for field in ["source", "status", "ratio", "count_ratio", "primary_rows", "dr_rows", "missing", "extra", "changed", "diffs", "rounds"] {
            #expect(json[field] != nil, "missing field \(field)")
        }
        #expect(json["diffs"] == .array([.object(["table": .string("public.t"), "key": .object(["id": .number(7)]), "kind": .string("missing")])]))
    }
}
