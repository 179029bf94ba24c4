import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import SQLiteJournal
import Testing
import TestSupport
@testable import PostgresClient
@testable import PostgresSource
@testable import SyncAPI
@testable import SyncCore
@testable import SyncManager

/// Check tables live in schema `checks` on the logical pair. They are created after the
/// subscription, which is never refreshed, so each side holds exactly what a test puts there:
/// a writable DR copy where differences can be planted.
enum CheckTables {
    static func both(_ sql: String) async throws {
        for endpoint in [TestServers.publisher, TestServers.subscriber] {
            try await run(endpoint, sql)
        }
    }

    static func run(_ endpoint: EndpointConfig, _ sql: String) async throws {
        let connection = try await TestServers.connect(endpoint)
        try await connection.query("SET client_min_messages = warning")
        for statement in sql.components(separatedBy: ";\n") where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            try await connection.query(statement)
        }
    }

    static func create(_ table: String, _ columns: String) async throws {
        try await both("CREATE SCHEMA IF NOT EXISTS checks;\nDROP TABLE IF EXISTS checks.\(table);\nCREATE TABLE checks.\(table) (\(columns))")
    }

    static func source(tables: [String], threshold: Double = 0.99999) -> SourceConfig {
        var config = TestServers.logical
        config.postgres?.tables = tables
        config.policy.ratioThreshold = threshold
        return config
    }

    static func check(_ tables: [String], options: CheckOptions = CheckOptions(fullDiff: true)) async throws -> CheckResult {
        try await PostgresSource(config: source(tables: tables)).check(options, progress: { _ in })
    }

    static func diffs(_ result: CheckResult) -> Set<String> {
        Set(result.diffs.map { "\($0.kind.rawValue) \(Format.key($0.key))" })
    }
}

enum Format {
    static func key(_ key: JSONValue) -> String {
        guard case let .object(object) = key else { return "\(key)" }
        return object.keys.sorted().map { name -> String in
            switch object[name] {
            case let .number(value)?: "\(name)=\(Int64(value))"
            case let .string(value)?: "\(name)=\(value)"
            default: "\(name)=?"
            }
        }.joined(separator: ",")
    }
}

extension PostgresReplicationTests {
    @Test func identicalTablesPassWithRatioOneInOneScanPerSide() async throws {
        try await CheckTables.create("same", "id bigint PRIMARY KEY, name text, amount numeric(12,2)")
        try await CheckTables.both("INSERT INTO checks.same SELECT g, 'n' || g, g * 1.25 FROM generate_series(1, 20000) g")
        let result = try await CheckTables.check(["checks.same"])
        #expect(result.status == .pass)
        #expect(result.ratio == 1.0)
        #expect(result.countRatio == 1.0)
        #expect(result.primaryRows == 20000 && result.drRows == 20000)
        #expect(result.diffs.isEmpty)
        let table = try #require(result.tables.first)
        #expect(table.status == .equal)
        #expect(table.segmentsCompared == 1, "an equal table costs one digest scan per side")
        #expect(result.rounds == 1)
    }

    @Test func everyKindOfDifferenceIsFoundExactly() async throws {
        try await CheckTables.create("planted", "id bigint PRIMARY KEY, name text, note text")
        try await CheckTables.both("INSERT INTO checks.planted SELECT g, 'n' || g, CASE WHEN g % 10 = 0 THEN NULL ELSE '' END FROM generate_series(1, 50000) g")
        try await CheckTables.run(TestServers.subscriber, """
            DELETE FROM checks.planted WHERE id IN (1, 25000, 50000);
            INSERT INTO checks.planted VALUES (60000, 'extra', NULL), (0, 'extra-low', NULL);
            UPDATE checks.planted SET name = 'changed' WHERE id = 777;
            UPDATE checks.planted SET note = '' WHERE id = 10;
            UPDATE checks.planted SET note = NULL WHERE id = 11;
            UPDATE checks.planted SET note = 'NULL' WHERE id = 12
            """)
        let result = try await CheckTables.check(["checks.planted"])
        #expect(CheckTables.diffs(result) == [
            "missing id=1", "missing id=25000", "missing id=50000", "extra id=60000", "extra id=0",
            "changed id=777", "changed id=10", "changed id=11", "changed id=12",
        ])
        #expect(result.missing == 3 && result.extra == 2 && result.changed == 4)
        #expect(result.primaryRows == 50000 && result.drRows == 49999)
        #expect(result.ratio == 1 - 9.0 / 50000)
        #expect(result.countRatio == 1 - 1.0 / 50000, "count-only sees only the net row difference")
        #expect(result.status == .fail)
        #expect(!result.stoppedEarly && !result.diffsTruncated)
        #expect(result.rounds == 3, "persisting differences are confirmed over every round")
        #expect(result.diffs.allSatisfy { $0.table == "checks.planted" })
    }

    /// Scattered differences land in more leaf ranges than one query compares: every batch counts.
    @Test func differencesSpreadOverManyLeavesAreAllFound() async throws {
        try await CheckTables.create("scattered", "id int PRIMARY KEY, v text")
        try await CheckTables.both("INSERT INTO checks.scattered SELECT g, 'v' || g FROM generate_series(1, 40000) g")
        try await CheckTables.run(TestServers.subscriber, "UPDATE checks.scattered SET v = 'changed' WHERE id % 250 = 0")
        let result = try await CheckTables.check(["checks.scattered"], options: CheckOptions(rounds: 1, fullDiff: true))
        #expect(result.changed == 160 && result.missing == 0 && result.extra == 0)
        #expect(CheckTables.diffs(result) == Set((1...160).map { "changed id=\($0 * 250)" }))
    }

    /// A large table with a single integer key splits by key arithmetic; differences at both ends
    /// of the key range (beyond either side's extent) and in the middle are all found.
    @Test func aLargeIntegerKeyedTableSplitsByArithmeticAndFindsEveryDifference() async throws {
        try await CheckTables.create("split", "id bigint PRIMARY KEY, v text")
        try await CheckTables.both("INSERT INTO checks.split SELECT g, 'v' || g FROM generate_series(1, 120000) g;\nANALYZE checks.split")
        try await CheckTables.run(TestServers.subscriber, """
            DELETE FROM checks.split WHERE id IN (1, 120000);
            UPDATE checks.split SET v = 'changed' WHERE id IN (60000, 60001, 99999);
            INSERT INTO checks.split VALUES (-5, 'below'), (120001, 'above')
            """)
        let result = try await CheckTables.check(["checks.split"], options: CheckOptions(rounds: 1, fullDiff: true))
        #expect(CheckTables.diffs(result) == [
            "missing id=1", "missing id=120000", "changed id=60000", "changed id=60001", "changed id=99999", "extra id=-5", "extra id=120001",
        ])
        #expect(result.tables.first?.segmentsCompared ?? 0 > 100, "the first split is wide")
        #expect(!result.notes.contains { $0.contains("narrowed again") }, "the quick fingerprints saw every difference")
    }

    /// A table that differed at the source's previous check is digested in key buckets by pass 1
    /// (bisection needs no second full scan) and yields the same differences, a sign change the
    /// quick fingerprints cannot see among them; once it is equal again, the check after that goes
    /// back to one whole-table digest.
    @Test func aTableThatDifferedLastTimeIsBucketedInPassOneAndYieldsTheSameDifferences() async throws {
        try await CheckTables.create("again", "id bigint PRIMARY KEY, v text, n numeric")
        try await CheckTables.both("INSERT INTO checks.again SELECT g, 'v' || g, g FROM generate_series(1, 120000) g;\nANALYZE checks.again")
        try await CheckTables.run(TestServers.subscriber, """
            DELETE FROM checks.again WHERE id = 7;
            UPDATE checks.again SET v = 'changed' WHERE id = 60000;
            UPDATE checks.again SET n = -n WHERE id = 90000;
            INSERT INTO checks.again VALUES (120005, 'extra', 0)
            """)
        let source = PostgresSource(config: CheckTables.source(tables: ["checks.again"]))
        let options = CheckOptions(rounds: 1, fullDiff: true)
        func bucketed(_ result: CheckResult) -> Bool {
            result.notes.contains { $0.contains("checks.again") && $0.contains("differed at the previous check") }
        }
        let expected: Set<String> = ["missing id=7", "changed id=60000", "changed id=90000", "extra id=120005"]
        let first = try await source.check(options, progress: { _ in })
        #expect(CheckTables.diffs(first) == expected)
        #expect(!bucketed(first))
        let second = try await source.check(options, progress: { _ in })
        #expect(CheckTables.diffs(second) == expected)
        #expect(bucketed(second))
        #expect(second.tables.first?.segmentsCompared ?? 0 > 100, "pass 1 itself split the table")
        #expect(second.primaryRows == first.primaryRows)

        try await CheckTables.run(TestServers.subscriber, """
            INSERT INTO checks.again VALUES (7, 'v7', 7);
            UPDATE checks.again SET v = 'v60000' WHERE id = 60000;
            UPDATE checks.again SET n = -n WHERE id = 90000;
            DELETE FROM checks.again WHERE id = 120005
            """)
        let repaired = try await source.check(options, progress: { _ in })
        #expect(repaired.diffs.isEmpty && repaired.tables.first?.status == .equal)
        #expect(bucketed(repaired), "it still differed at the check before")
        let after = try await source.check(options, progress: { _ in })
        #expect(after.diffs.isEmpty && !bucketed(after))
        #expect(after.tables.first?.segmentsCompared == 1, "one whole-table digest again")
    }

    /// Differences the quick fingerprints cannot see (a sign, -0, a high word) are still all found,
    /// together with an ordinary one: the leaves' full fingerprints do not account for the table's
    /// difference, so it is narrowed again with full fingerprints.
    @Test func differencesInvisibleToQuickFingerprintsAreFoundByNarrowingAgain() async throws {
        try await CheckTables.create("subtle", "id int PRIMARY KEY, amount numeric, ratio float8, big int8, note text")
        try await CheckTables.both("INSERT INTO checks.subtle SELECT g, 5, 0, 1, 'n' || g FROM generate_series(1, 6000) g")
        try await CheckTables.run(TestServers.subscriber, """
            UPDATE checks.subtle SET amount = -5 WHERE id = 1234;
            UPDATE checks.subtle SET ratio = '-0' WHERE id = 2345;
            UPDATE checks.subtle SET big = 4294967296 WHERE id = 3456;
            UPDATE checks.subtle SET note = 'changed' WHERE id = 4567
            """)
        let result = try await CheckTables.check(["checks.subtle"], options: CheckOptions(rounds: 1, fullDiff: true))
        #expect(CheckTables.diffs(result) == ["changed id=1234", "changed id=2345", "changed id=3456", "changed id=4567"])
        #expect(result.notes.contains { $0.contains("checks.subtle") && $0.contains("narrowed again") })
    }

    /// Keys the arithmetic cannot split well (one far outlier puts every row in one bucket) or at all
    /// (bounds past int4's maximum) are still bisected down to the differing rows.
    @Test func skewedAndTypeBoundIntegerKeysAreStillBisectedToTheRow() async throws {
        try await CheckTables.create("outlier", "id bigint PRIMARY KEY, v text")
        try await CheckTables.create("edge", "id int PRIMARY KEY, v text")
        try await CheckTables.both("""
            INSERT INTO checks.outlier SELECT g, 'v' || g FROM generate_series(1, 110000) g;
            INSERT INTO checks.outlier VALUES (1000000000000000, 'far');
            INSERT INTO checks.edge SELECT g, 'v' || g FROM generate_series(1, 110000) g;
            INSERT INTO checks.edge VALUES (2147483647, 'max')
            """)
        try await CheckTables.run(TestServers.subscriber, """
            UPDATE checks.outlier SET v = 'changed' WHERE id = 77777;
            UPDATE checks.edge SET v = 'changed' WHERE id IN (5, 2147483647)
            """)
        let outlier = try await CheckTables.check(["checks.outlier"], options: CheckOptions(rounds: 1, fullDiff: true))
        #expect(CheckTables.diffs(outlier) == ["changed id=77777"])
        let edge = try await CheckTables.check(["checks.edge"], options: CheckOptions(rounds: 1, fullDiff: true))
        #expect(CheckTables.diffs(edge) == ["changed id=5", "changed id=2147483647"])
    }

    @Test func aCheckStopsEarlyOnceAPassIsImpossibleUnlessFullDiff() async throws {
        try await CheckTables.create("many", "id int PRIMARY KEY, v text")
        try await CheckTables.both("INSERT INTO checks.many SELECT g, 'v' || g FROM generate_series(1, 10000) g")
        try await CheckTables.run(TestServers.subscriber, "UPDATE checks.many SET v = 'x' WHERE id % 100 = 0")
        let early = try await CheckTables.check(["checks.many"], options: CheckOptions(rounds: 1))
        #expect(early.status == .fail)
        #expect(early.stoppedEarly)
        #expect(early.diffsTruncated)
        #expect(early.changed < 100)
        let full = try await CheckTables.check(["checks.many"], options: CheckOptions(maxDiffs: 10, rounds: 1, fullDiff: true))
        #expect(!full.stoppedEarly)
        #expect(full.changed == 100, "totals are exact")
        #expect(full.diffs.count == 10, "the list is capped")
        #expect(full.diffsTruncated)
    }

    @Test func equalValuesHashEqualWhateverTheirRepresentationOrSessionSettings() async throws {
        try await CheckTables.both("""
            DROP TABLE IF EXISTS checks.types;
            DROP TYPE IF EXISTS checks.mood;
            CREATE SCHEMA IF NOT EXISTS checks;
            CREATE TYPE checks.mood AS ENUM ('sad', 'ok', 'happy');
            CREATE TABLE checks.types (id int PRIMARY KEY, n numeric, f8 float8, f4 float4, ts timestamptz, t timestamp, d date,
              iv interval, tx text, b bytea, j json, jb jsonb, arr int[], tarr text[], m checks.mood, u uuid, flag boolean)
            """)
        // The DR server's sessions default to another time zone and float precision: the check must not care.
        try await CheckTables.run(TestServers.subscriber, """
            ALTER ROLE syncd IN DATABASE appdb SET TimeZone = 'Pacific/Chatham';
            ALTER ROLE syncd IN DATABASE appdb SET extra_float_digits = 0;
            ALTER ROLE syncd IN DATABASE appdb SET DateStyle = 'SQL, DMY'
            """)
        try await CheckTables.run(TestServers.publisher, """
            INSERT INTO checks.types VALUES (1, 1.50, 0.1, 0.3, '2024-03-01 12:00:00+00', '2024-03-01 12:00:00', '2024-01-02',
              '1 day 2 hours', 'naïve café 日本 🚀', '\\xdeadbeef', '{"a": 1, "b": [1, 2]}', '{"x": 1.0}', '{1,2,3}', '{"a b",c}', 'happy',
              'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true)
            """)
        try await CheckTables.run(TestServers.subscriber, """
            INSERT INTO checks.types VALUES (1, 1.5, 1e-1, 0.3, '2024-03-01 17:30:00+05:30', '2024-03-01T12:00:00', '02/01/2024',
              'P1DT2H', 'naïve café 日本 🚀', decode('DEADBEEF', 'hex'), '{"b":[1,2],"a":1}', '{"x": 1.0}', ARRAY[1,2,3], ARRAY['a b','c'], 'happy',
              'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 't')
            """)
        let equal: CheckResult
        do {
            equal = try await CheckTables.check(["checks.types"])
            try await CheckTables.run(TestServers.subscriber, "ALTER ROLE syncd IN DATABASE appdb RESET ALL")
        } catch {
            try await CheckTables.run(TestServers.subscriber, "ALTER ROLE syncd IN DATABASE appdb RESET ALL")
            throw error
        }
        #expect(equal.status == .pass, "diffs: \(CheckTables.diffs(equal))")
        #expect(equal.diffs.isEmpty)
        // The binary fingerprints agree across the two servers too: the equal table costs one scan per side.
        #expect(equal.tables.first?.segmentsCompared == 1)

        // NULL, the empty string and the string 'NULL' are three different values.
        try await CheckTables.run(TestServers.publisher, "INSERT INTO checks.types (id, tx) VALUES (2, NULL), (3, ''), (4, 'NULL')")
        try await CheckTables.run(TestServers.subscriber, "INSERT INTO checks.types (id, tx) VALUES (2, ''), (3, 'NULL'), (4, NULL)")
        // Real value changes are caught in every type.
        try await CheckTables.run(TestServers.publisher, "INSERT INTO checks.types (id, n, ts, jb) VALUES (5, 1.5, '2024-03-01 12:00+00', '{\"k\": 1}')")
        try await CheckTables.run(TestServers.subscriber, "INSERT INTO checks.types (id, n, ts, jb) VALUES (5, 1.5, '2024-03-01 12:00:01+00', '{\"k\": 1}')")
        let different = try await CheckTables.check(["checks.types"])
        #expect(CheckTables.diffs(different) == ["changed id=2", "changed id=3", "changed id=4", "changed id=5"])
    }

    /// Some types' own hash functions are looser than their values (their hash or equality says
    /// equal where the DR copy is not identical), money has none: the fingerprint must still tell
    /// each pair apart.
    @Test func rowFingerprintsSeparateValuesWhoseTypeHashIsLooserThanTheirValue() async throws {
        try await CheckTables.both("""
            CREATE SCHEMA IF NOT EXISTS checks;
            DROP TABLE IF EXISTS checks.loose;
            DROP COLLATION IF EXISTS checks.nocase;
            CREATE COLLATION checks.nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
            CREATE TABLE checks.loose (id int PRIMARY KEY, f float8, f4 float4, iv interval, arr int[], ci text COLLATE checks.nocase,
              mo money, big int8, signed numeric, special numeric, ts timestamp, tstz timestamptz, tm time, doc jsonb, js json, nothing int)
            """)
        // 1 and 2^32 fold to the same 32 bits in int8's hash, and so do the timestamps and times
        // 1 µs and 2^32 µs after their epoch.
        try await CheckTables.run(TestServers.publisher, """
            INSERT INTO checks.loose VALUES
              (1, 0, 0, '1 day', '{1,2}', 'A', 1, 1, 5, 'NaN', '2000-01-01 00:00:00.000001', '2000-01-01 00:00:00.000001+00', '00:00:00.000001', '[1]', '{"a": 1}'),
              (2, '-0', '-0', '24 hours', '{{1,2}}', 'a', 2, 4294967296, -5, 'Infinity', '2000-01-01 01:11:34.967296', '2000-01-01 01:11:34.967296+00', '01:11:34.967296', '[-1]', '{"a": -1}')
            """)
        let table = try TableSQL(schema: "checks", table: "loose", columns: try await tableColumns(
            TestServers.connect(TestServers.publisher), schema: "checks", table: "loose"))
        let connection = try await TestServers.connect(TestServers.publisher)
        let typeHashesAlike = try await connection.query("""
            SELECT hashint8extended(1, 0) = hashint8extended(4294967296, 0), hash_numeric_extended(5, 0) = hash_numeric_extended(-5, 0),
                   jsonb_hash_extended('[1]', 0) = jsonb_hash_extended('[-1]', 0)
            """).rows.first
        #expect(typeHashesAlike == ["t", "t", "t"], "the pairs are the ones the types' own hashes confuse")
        // Each column alone (the hash chain), and next to an all-NULL column (the record hash).
        let nothing = try #require(table.columns.last)
        for column in table.columns where column.name != "id" && column.name != "nothing" {
            for columns in [[table.columns[0], column], [table.columns[0], column, nothing]] {
                let single = try TableSQL(schema: "checks", table: "loose", columns: columns)
                let rows = try await connection.query("SELECT \(try single.rowFingerprint()) FROM checks.loose ORDER BY id").rows
                #expect(rows.count == 2 && rows[0][0] != rows[1][0], "column \(column.name) hashes 2 different values alike (\(columns.count) columns)")
            }
        }
    }

    /// numeric_send keeps the scale, so 1.0 and 1.000 fingerprint differently; the leaves compare
    /// trimmed text, so the table is still equal.
    @Test func aNumericScaleDifferenceIsNoDifference() async throws {
        try await CheckTables.create("scales", "id int PRIMARY KEY, n numeric")
        try await CheckTables.run(TestServers.publisher, "INSERT INTO checks.scales SELECT g, 1.0 FROM generate_series(1, 100) g")
        try await CheckTables.run(TestServers.subscriber, "INSERT INTO checks.scales SELECT g, CASE WHEN g = 50 THEN 1.000 ELSE 1.0 END FROM generate_series(1, 100) g")
        let result = try await CheckTables.check(["checks.scales"])
        #expect(result.status == .pass && result.diffs.isEmpty)
        #expect(result.tables.first?.status == .equal)
    }

    @Test func compositeTextAndUUIDKeysAreBisectedByRealKeyValues() async throws {
        try await CheckTables.create("composite", "region text, seq int, payload text, PRIMARY KEY (region, seq)")
        try await CheckTables.both("""
            INSERT INTO checks.composite SELECT r, s, r || s FROM unnest(ARRAY['Zürich', 'alpha', 'Alpha', 'éclair', 'beta', '日本']) r, generate_series(1, 2000) s
            """)
        try await CheckTables.run(TestServers.subscriber, """
            DELETE FROM checks.composite WHERE region = 'Alpha' AND seq = 1500;
            UPDATE checks.composite SET payload = 'x' WHERE region = '日本' AND seq = 7;
            INSERT INTO checks.composite VALUES ('éclair', 9999, 'extra')
            """)
        let composite = try await CheckTables.check(["checks.composite"])
        #expect(CheckTables.diffs(composite) == ["missing region=Alpha,seq=1500", "changed region=日本,seq=7", "extra region=éclair,seq=9999"])
        #expect(composite.tables.first?.segmentsCompared ?? 0 > 1, "the table was bisected")

        try await CheckTables.create("uuids", "id uuid PRIMARY KEY, v int")
        try await CheckTables.run(TestServers.publisher, "INSERT INTO checks.uuids SELECT md5(g::text)::uuid, g FROM generate_series(1, 5000) g")
        try await CheckTables.run(TestServers.subscriber, "INSERT INTO checks.uuids SELECT md5(g::text)::uuid, g FROM generate_series(1, 5000) g WHERE g <> 4242")
        let uuids = try await CheckTables.check(["checks.uuids"])
        let missing = try await TestServers.connect(TestServers.publisher).query("SELECT md5('4242')::uuid::text AS id").value(0, "id")
        #expect(CheckTables.diffs(uuids) == ["missing id=\(missing ?? "")"])
    }

    @Test func tablesWithoutPrimaryKeyAreSkippedWithTheReason() async throws {
        try await CheckTables.create("nokey", "a int, b text")
        try await CheckTables.create("keyed", "id int PRIMARY KEY")
        let result = try await CheckTables.check(["checks.nokey", "checks.keyed"])
        let skipped = try #require(result.tables.first { $0.table == "checks.nokey" })
        #expect(skipped.status == .skipped)
        #expect(skipped.reason == "no primary key: rows cannot be matched between the sides")
        #expect(result.status == .pass)
    }

    @Test func aTableMissingOnTheDRSideCountsEveryRowAsMissing() async throws {
        try await CheckTables.run(TestServers.subscriber, "CREATE SCHEMA IF NOT EXISTS checks;\nDROP TABLE IF EXISTS checks.gone")
        try await CheckTables.run(TestServers.publisher, "CREATE SCHEMA IF NOT EXISTS checks;\nDROP TABLE IF EXISTS checks.gone;\nCREATE TABLE checks.gone (id int PRIMARY KEY);\nINSERT INTO checks.gone SELECT generate_series(1, 10)")
        let result = try await CheckTables.check(["checks.gone"])
        #expect(result.missing == 10)
        #expect(result.tables.first?.reason == "the table does not exist on the DR side")
        #expect(result.status == .fail)
    }

    @Test func writesOnTheLivePrimaryDuringACheckAreNotReported() async throws {
        // The physical pair with a writer running through the whole check.
        let primary = try await TestServers.connect(TestServers.primary)
        try await primary.query("CREATE TABLE IF NOT EXISTS hot (id int PRIMARY KEY, v bigint)")
        try await primary.query("INSERT INTO hot SELECT g, 0 FROM generate_series(1, 20000) g ON CONFLICT (id) DO NOTHING")
        let source = PostgresSource(config: { var c = TestServers.physical; c.postgres?.tables = ["hot", "events"]; return c }())
        _ = try await source.waitForDrain(timeout: .seconds(30))
        let writer = Task {
            var round = 0
            while !Task.isCancelled {
                round += 1
                try await primary.query("UPDATE hot SET v = v + 1 WHERE id % 50 = $1::int", [String(round % 50)])
                try await writeEvents(primary, rows: 200)
            }
        }
        let result = try await source.check(CheckOptions(rounds: 4, fullDiff: true), progress: { _ in })
        writer.cancel()
        _ = await writer.result
        #expect(result.diffs.isEmpty, "in-flight writes are not differences: \(result.diffs.prefix(5))")
        #expect(result.status == .pass)
    }

    @Test func checksRunThroughTheAPIAndFeedTheGate() async throws {
        try await CheckTables.create("gated", "id int PRIMARY KEY, v text")
        try await CheckTables.both("INSERT INTO checks.gated SELECT g, 'v' FROM generate_series(1, 1000) g")
        let config = CheckTables.source(tables: ["checks.gated"])
        let registry = PrometheusCollectorRegistry()
        let journalPath = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-check-\(UUID().uuidString)/journal.sqlite").path
        let manager = SyncManager(sources: [(config, PostgresSource(config: config))], journal: try SQLiteJournal(path: journalPath), historySize: 10,
                                  metricsFactory: PrometheusMetricsFactory(registry: registry), logger: Logger(label: "test"))
        await manager.monitors[0].poll()
        let app = Application(router: SyncAPI.router(manager: manager, readToken: Secret("r"), adminToken: Secret("a"), registry: registry))
        try await app.test(.router) { client in
            let id: String = try await client.execute(uri: "/v1/sources/pg-logical/check?rounds=2", method: .post,
                                                      headers: [.authorization: "Bearer a"]) { response in
                #expect(response.status == .accepted)
                let body = try JSONCoding.decoder.decode(JSONValue.self, from: Data(buffer: response.body))
                guard case let .string(id)? = body["id"] else { throw TestSetupError("no job id") }
                #expect(response.headers[.location] == "/v1/checks/\(id)")
                return id
            }
            try await client.execute(uri: "/v1/checks/\(id)?wait=forever", method: .get, headers: [.authorization: "Bearer r"]) { response in
                #expect(response.status == .badRequest)
            }
            // One long poll answers when the check ends (the check takes far longer than answering at once).
            let job = try await client.execute(uri: "/v1/checks/\(id)?wait=60s", method: .get, headers: [.authorization: "Bearer r"]) { response in
                try JSONCoding.decoder.decode(JSONValue.self, from: Data(buffer: response.body))
            }
            #expect(job["status"] == .string("done"))
            #expect(job["result"]?["status"] == .string("pass"))
            #expect(job["result"]?["primary_rows"] == .number(1000))
            try await client.execute(uri: "/v1/gate?sources=pg-logical", method: .get, headers: [.authorization: "Bearer r"]) { response in
                #expect(response.status == .ok, "a fresh passing check and healthy replication pass the gate")
            }
            try await client.execute(uri: "/v1/sources/pg-logical/check", method: .get, headers: [.authorization: "Bearer r"]) { response in
                #expect(response.status == .ok)
            }
        }
        // A restarted manager restores the latest check from the journal.
        let restarted = SyncManager(sources: [(config, PostgresSource(config: config))], journal: try SQLiteJournal(path: journalPath), historySize: 10,
                                    metricsFactory: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()), logger: Logger(label: "test"))
        await restarted.restoreLatestChecks()
        #expect(await restarted.monitors[0].latestCheck?.ratio == 1.0)
    }
}
