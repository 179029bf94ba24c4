import Foundation
import Testing
import TestSupport
@testable import PostgresClient
@testable import PostgresSource
@testable import SyncCore

@Suite(.serialized) struct ParallelCheckTests {
        @Test("a sibling session reads the same snapshot on the primary and on the hot standby: rows written after it are invisible to it, visible to a fresh one")
        func siblingsShareTheSnapshot() async throws {
            let writer = try await TestServers.connect(TestServers.primary)
            try await writer.query("CREATE TABLE IF NOT EXISTS public.snapshot_probe (id int PRIMARY KEY)")
            try await writer.query("TRUNCATE public.snapshot_probe")
            _ = try await PostgresSource(config: TestServers.physical).waitForDrain(timeout: .seconds(30))
            for (side, endpoint) in [(Side.primary, TestServers.primary), (.dr, TestServers.standby)] {
                let session = try await CheckSession.open(endpoint, side: side, source: "test")
                let sibling = try await session.sibling(endpoint, source: "test")
                try await writer.query("INSERT INTO public.snapshot_probe SELECT coalesce(max(id), 0) + 1 FROM public.snapshot_probe")
                _ = try await PostgresSource(config: TestServers.physical).waitForDrain(timeout: .seconds(30))
                let fresh = try await TestServers.connect(endpoint)
                let count = "SELECT count(*)::text AS n FROM public.snapshot_probe"
                let seenBySibling = try await sibling.connection.query(count).value(0, "n")
                let seenBySession = try await session.connection.query(count).value(0, "n")
                let seenFresh = try await fresh.query(count).value(0, "n")
                #expect(seenBySibling == seenBySession, "\(side): the sibling shares the snapshot (\(seenBySibling ?? "nil") vs \(seenBySession ?? "nil"))")
                #expect(seenFresh.flatMap(Int.init) == (seenBySession.flatMap(Int.init) ?? -1) + 1, "\(side): the row written after the snapshot is invisible to it")
                await sibling.close()
                await session.close()
            }
        }

        @Test("tables are digested several at once (check_concurrency lanes over shared snapshots), with the same result as one at a time")
        func parallelFirstPassFindsTheSameDifferences() async throws {
            let tables = (0..<12).map { "par_\($0)" }
            for table in tables {
                try await CheckTables.create(table, "id int PRIMARY KEY, v text")
                try await CheckTables.both("INSERT INTO checks.\(table) SELECT g, 'v' || g FROM generate_series(1, 300) g")
            }
            try await CheckTables.run(TestServers.subscriber, "UPDATE checks.par_3 SET v = 'changed' WHERE id = 7;\nDELETE FROM checks.par_9 WHERE id = 100")
            var results: [Int: CheckResult] = [:]
            for concurrency in [1, 4] {
                var config = CheckTables.source(tables: tables.map { "checks.\($0)" })
                config.postgres?.checkConcurrency = concurrency
                results[concurrency] = try await PostgresSource(config: config).check(CheckOptions(fullDiff: true), progress: { _ in })
            }
            let one = try #require(results[1]), four = try #require(results[4])
            #expect(four.changed == 1 && four.missing == 1 && four.extra == 0 && four.primaryRows == 3600, "\(four.tables)")
            #expect(CheckTables.diffs(one) == CheckTables.diffs(four))
            #expect(!four.notes.contains { $0.contains("one after another") }, "lanes were opened: \(four.notes)")
        }
    }
