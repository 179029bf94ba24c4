import Foundation
import Testing
import TestSupport
@testable import PostgresClient
@testable import PostgresSource
@testable import SyncCore

extension PostgresReplicationTests {
    @Test("table_rules: excluded columns, a row filter, float rounding and timestamp truncation decide what is compared, and the result says so")
    func tableRulesShapeTheComparison() async throws {
        let table = "ruled_\(UUID().uuidString.prefix(6).lowercased())"
        try await CheckTables.create(table, "id bigint PRIMARY KEY, tenant int NOT NULL, price float8, seen timestamptz, synced_at timestamptz")
        try await CheckTables.both("""
            INSERT INTO checks.\(table) SELECT g, g % 3, g / 7.0, '2024-01-01'::timestamptz + g * interval '1 minute', now() FROM generate_series(1, 300) g
            """)
        // Differences the rules are meant to absorb: a bookkeeping column, float noise, sub-second
        // timestamps, and rows of a tenant that is not replicated.
        try await CheckTables.run(TestServers.subscriber, """
            UPDATE checks.\(table) SET synced_at = synced_at + interval '1 hour';
            UPDATE checks.\(table) SET price = price + 1e-12 WHERE id <= 10;
            UPDATE checks.\(table) SET seen = seen + interval '250 milliseconds' WHERE id <= 20;
            DELETE FROM checks.\(table) WHERE tenant = 2
            """)
        defer { Task { try? await CheckTables.both("DROP TABLE IF EXISTS checks.\(table)") } }

        let plain = try await CheckTables.check(["checks.\(table)"])
        #expect(plain.status == .fail && plain.changed > 0 && plain.missing > 0)

        var config = CheckTables.source(tables: ["checks.\(table)"])
        config.postgres?.tableRules = [TableRule(table: "checks.\(table)", excludeColumns: ["synced_at"], rowFilter: "tenant <> 2",
                                                 floatDigits: 9, timestampPrecision: "second")]
        let ruled = try await PostgresSource(config: config).check(CheckOptions(fullDiff: true)) { _ in }
        #expect(ruled.status == .pass, "\(ruled.diffs.prefix(5))")
        #expect(ruled.primaryRows == 200, "only the filtered rows: \(ruled.primaryRows)")
        let note = try #require(ruled.notes.first { $0.contains("compared as declared") }, "\(ruled.notes)")
        #expect(note.contains("columns synced_at left out") && note.contains("only rows where tenant <> 2")
                && note.contains("price rounded to 9 decimal digit(s)") && note.contains("truncated to the second"), "\(note)")

        // A real difference still shows through the rules.
        try await CheckTables.run(TestServers.subscriber, "UPDATE checks.\(table) SET price = price + 1 WHERE id = 30")
        let changed = try await PostgresSource(config: config).check(CheckOptions(fullDiff: true)) { _ in }
        #expect(changed.changed == 1, "\(changed.diffs)")

        // A filter that does not plan, and a key column excluded, are refused.
        config.postgres?.tableRules = [TableRule(table: "checks.\(table)", rowFilter: "no_such_column = 1")]
        await #expect(throws: SyncError.self) { _ = try await PostgresSource(config: config).check(CheckOptions()) { _ in } }
        config.postgres?.tableRules = [TableRule(table: "checks.\(table)", excludeColumns: ["id"])]
        await #expect(throws: SyncError.self) { _ = try await PostgresSource(config: config).check(CheckOptions()) { _ in } }
    }
}
