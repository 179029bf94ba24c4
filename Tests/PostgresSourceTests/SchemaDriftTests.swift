import Foundation
import Testing
import TestSupport
@testable import PostgresClient
@testable import PostgresSource
@testable import SyncCore

extension PostgresReplicationTests {
    @Test("schema drift of a checked table: a missing column, unique index or enum label fails the gate; a missing check constraint or a nullability difference is a warning")
    func schemaDriftIsReported() async throws {
        let suffix = UUID().uuidString.prefix(6).lowercased()
        let table = "drift_\(suffix)", status = "status_\(suffix)"
        try await CheckTables.run(TestServers.publisher, """
            CREATE SCHEMA IF NOT EXISTS checks;
            CREATE TYPE checks.\(status) AS ENUM ('open', 'paid', 'refunded');
            CREATE TABLE checks.\(table) (id bigint PRIMARY KEY, email text NOT NULL, state checks.\(status), note text, amount int CHECK (amount >= 0));
            CREATE UNIQUE INDEX ON checks.\(table) (email)
            """)
        try await CheckTables.run(TestServers.subscriber, """
            CREATE SCHEMA IF NOT EXISTS checks;
            CREATE TYPE checks.\(status) AS ENUM ('open', 'paid');
            CREATE TABLE checks.\(table) (id bigint PRIMARY KEY, email text, state checks.\(status), amount int)
            """)
        defer {
            Task { try? await CheckTables.both("DROP TABLE IF EXISTS checks.\(table);\nDROP TYPE IF EXISTS checks.\(status)") }
        }
        let result = try await CheckTables.check(["checks.\(table)"])
        let schema = result.diffs.filter { $0.kind == .schema }.compactMap(\.detail)
        #expect(result.status == .fail)
        let blockers = result.blockers ?? []
        #expect(blockers.contains { $0.contains("column note is missing on the DR side") }, "\(blockers)")
        #expect(blockers.contains { $0.contains("unique index USING btree (email) is missing on the DR side") }, "\(blockers)")
        #expect(blockers.contains { $0.contains("enum label \(status): refunded is missing on the DR side") }, "\(blockers)")
        #expect(schema.contains { $0.contains("check constraint CHECK ((amount >= 0)) is missing on the DR side (warning)") }, "\(schema)")
        #expect(schema.contains { $0.contains("column email is NOT NULL on the primary, nullable on the DR side (warning)") }, "\(schema)")
        #expect(!blockers.contains { $0.contains("CHECK") || $0.contains("nullable") }, "warnings do not fail the gate: \(blockers)")
        #expect(result.notes.contains { $0.hasPrefix("warning: schema of checks.\(table)") })

        // The same definitions on both sides: nothing to report.
        try await CheckTables.run(TestServers.subscriber, """
            ALTER TYPE checks.\(status) ADD VALUE 'refunded';
            ALTER TABLE checks.\(table) ADD COLUMN note text, ALTER COLUMN email SET NOT NULL, ADD CHECK (amount >= 0);
            CREATE UNIQUE INDEX ON checks.\(table) (email)
            """)
        let fixed = try await CheckTables.check(["checks.\(table)"])
        #expect(fixed.diffs.filter { $0.kind == .schema }.isEmpty && fixed.status == .pass, "\(fixed.diffs) \(fixed.blockers ?? [])")
    }
}
