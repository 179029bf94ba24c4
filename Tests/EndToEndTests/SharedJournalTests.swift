import Foundation
import Testing

/// The shared journal as an operator moves to it: an SQLite journal moved into PostgreSQL with
/// syncctl, then syncd running on the database.
extension BinaryTests {
    var journalPort: String { environment["SYNCD_PG_JOURNAL_PORT"] ?? "25436" }

    func journalSQL(_ sql: String, database: String = "postgres") async throws -> Run {
        try await shell("PGPASSWORD=\(environment["SYNCD_PG_PASSWORD"] ?? "syncd-demo-password") psql -X -q -h 127.0.0.1 -p \(journalPort) -U syncd -d \(database) -tAc \"\(sql)\"")
    }

    @Test("syncctl journal migrate moves an SQLite journal into an empty PostgreSQL journal (once); syncd then runs on it and it verifies")
    func migrateToTheSharedJournal() async throws {
        let database = "e2e_journal_\(port)"
        _ = try await journalSQL("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
        #expect(try await journalSQL("CREATE DATABASE \(database)").status == 0)
        defer { Task { _ = try? await journalSQL("DROP DATABASE IF EXISTS \(database) WITH (FORCE)") } }

        let first = try await startSyncd()
        #expect(try await syncctl("gate").status == 1)
        #expect(try await stopSyncd(first) == 0)

        let shared = config(port: "25433").replacingOccurrences(
            of: "journal: journal.sqlite", with: "journal: {postgres: {host: 127.0.0.1, port: \(journalPort), user: syncd, password: {file: pg.password}, database: \(database)}}")
        try shared.write(to: directory.appendingPathComponent("shared.yaml"), atomically: true, encoding: .utf8)
        let sqlite = directory.appendingPathComponent("journal.sqlite").path
        let migrate = try await shell("\(binaries.path)/syncctl journal migrate --from \(sqlite) --config \(directory.path)/shared.yaml")
        #expect(migrate.status == 0, "\(migrate.stdout) \(migrate.stderr)")
        #expect(migrate.stdout.contains("moved") && migrate.stdout.contains("its chain verifies"), "\(migrate.stdout)")
        let again = try await shell("\(binaries.path)/syncctl journal migrate --from \(sqlite) --config \(directory.path)/shared.yaml")
        #expect(again.status == 2 && again.stderr.contains("already holds"), "\(again.stdout) \(again.stderr)")

        // In-process syncctl over a shared journal holds no lease: leader-only work is refused, reads work.
        let local = try await shell("\(binaries.path)/syncctl cutover --drill --sources pg-logical --config \(directory.path)/shared.yaml")
        #expect(local.status == 2 && local.stderr.contains("holds no lease"), "\(local.stdout) \(local.stderr)")
        #expect(try await shell("\(binaries.path)/syncctl journal verify --config \(directory.path)/shared.yaml").status == 0)

        let check = try await shell("\(binaries.path)/syncd --config \(directory.path)/shared.yaml --check-config")
        #expect(check.stdout.contains("journal postgresql://syncd@127.0.0.1:\(journalPort)/\(database)"), "\(check.stdout) \(check.stderr)")
        try shared.write(to: directory.appendingPathComponent("syncd.yaml"), atomically: true, encoding: .utf8)
        let second = try await startSyncd()
        #expect(try await syncctl("gate").status == 1)
        let verify = try await syncctl("journal verify")
        #expect(verify.status == 0 && verify.stdout.contains("journal: intact"), "\(verify.stdout) \(verify.stderr)")
        let entries = try await syncctl("journal --kind service --json --limit 200")
        #expect(entries.stdout.contains("\"migrate\"") && entries.stdout.contains("\"start\""), "\(entries.stdout.prefix(1500))")
        #expect(try await stopSyncd(second) == 0)
        let rows = try await journalSQL("SELECT count(*) FROM journal WHERE kind = 'gate'", database: database)
        #expect((Int(rows.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 2, "both gate calls, the moved and the new: \(rows.stdout)")
    }
}
