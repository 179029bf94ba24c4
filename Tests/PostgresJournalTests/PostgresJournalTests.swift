import Foundation
import PostgresClient
import PostgresJournal
import SQLiteJournal
import Testing
@testable import SyncCore

/// The shared journal on the separate PostgreSQL cluster integration/pg.sh starts for it (:25436):
/// each test works in a database of its own, dropped at the end.
struct JournalDatabase {
    static let environment = ProcessInfo.processInfo.environment
    static let host = environment["SYNCD_PG_HOST"] ?? "127.0.0.1"
    static let port = Int(environment["SYNCD_PG_JOURNAL_PORT"] ?? "") ?? 25436
    static let password = Secret(environment["SYNCD_PG_PASSWORD"] ?? "syncd-demo-password")
    static let script = environment["SYNCD_PG_SCRIPT"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("integration/pg.sh").path

    let name = "journal_test_\(UUID().uuidString.prefix(8).lowercased())"

    static func endpoint(_ database: String) -> EndpointConfig {
        EndpointConfig(host: host, port: port, user: "syncd", password: password, database: database, connectTimeoutSeconds: 3)
    }

    static func admin(_ sql: String) async throws {
        let connection = try await PGConnection.connect(PGConnectionParameters(endpoint: endpoint("postgres")))
        try await connection.query(sql)
    }

    func create() async throws -> PostgresJournal {
        try await Self.admin("CREATE DATABASE \(name)")
        return try await journal()
    }

    func journal() async throws -> PostgresJournal {
        let journal = PostgresJournal(endpoint: Self.endpoint(name), sslmode: nil)
        try await journal.prepare()
        return journal
    }

    /// SQL run directly in the test's database: what someone with database access could do.
    func tamper(_ sql: String) async throws {
        let connection = try await PGConnection.connect(PGConnectionParameters(endpoint: Self.endpoint(name)))
        try await connection.query(sql)
    }

    func drop() async {
        try? await Self.admin("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }
}

@Suite(.serialized) struct PostgresJournalTests {
    @Test("entries come back newest first with their detail, and the chain verifies")
    func appendReadVerify() async throws {
        let database = JournalDatabase()
        defer { Task { await database.drop() } }
        let journal = try await database.create()
        for index in 0..<5 {
            try await journal.append(kind: index.isMultiple(of: 2) ? "check" : "gate", source: "pg", actor: "test", action: "verify",
                                     outcome: "pass", detail: .object(["index": .number(Double(index)), "name": .string("caf\u{00E9}")]))
        }
        let recent = try await journal.recent(limit: 10)
        #expect(recent.map { $0.detail?["index"] } == [4, 3, 2, 1, 0].map { JSONValue.number(Double($0)) })
        #expect(try await journal.recent(limit: 10, source: "pg", kind: "check").count == 3)
        #expect(try await journal.recent(limit: 1, source: "other", kind: nil).isEmpty)
        let verification = try await journal.verifyChain()
        #expect(verification.ok && verification.entries == 5, "\(verification)")
        // The schema is versioned and preparing again changes nothing.
        try await journal.prepare()
        #expect(try await journal.count() == 5)
    }

    @Test("two instances appending at once keep one chain: every entry links to the one before")
    func concurrentInstancesShareOneChain() async throws {
        let database = JournalDatabase()
        defer { Task { await database.drop() } }
        let first = try await database.create()
        let second = try await database.journal()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, journal) in [("a", first), ("b", second)] {
                group.addTask {
                    for index in 0..<40 {
                        try await journal.append(kind: "gate", source: nil, actor: name, action: "evaluate", outcome: "pass",
                                                 detail: .object(["n": .number(Double(index))]))
                    }
                }
            }
            try await group.waitForAll()
        }
        let verification = try await second.verifyChain()
        #expect(verification.ok && verification.entries == 80, "\(verification)")
    }

    @Test("an edited, removed or inserted entry is named by verify")
    func tamperingIsFound() async throws {
        let database = JournalDatabase()
        defer { Task { await database.drop() } }
        let journal = try await database.create()
        for index in 0..<6 {
            try await journal.append(kind: "gate", source: "pg", actor: "test", action: "evaluate", outcome: "fail",
                                     detail: .object(["n": .number(Double(index))]))
        }
        try await database.tamper("UPDATE journal SET outcome = 'pass' WHERE id = 3")
        var verification = try await journal.verifyChain()
        #expect(!verification.ok && verification.firstBadEntry == 3 && verification.problem?.contains("changed") == true, "\(verification)")
        try await database.tamper("UPDATE journal SET outcome = 'fail' WHERE id = 3")
        #expect(try await journal.verifyChain().ok)
        try await database.tamper("DELETE FROM journal WHERE id = 4")
        verification = try await journal.verifyChain()
        #expect(!verification.ok && verification.firstBadEntry == 5 && verification.problem?.contains("removed or inserted") == true, "\(verification)")
    }

    @Test("pruning keeps cutover entries and a checkpoint, so the chain still verifies and a removed kept entry is found")
    func pruneKeepsTheChainVerifiable() async throws {
        let database = JournalDatabase()
        defer { Task { await database.drop() } }
        let journal = try await database.create()
        let old = Date().addingTimeInterval(-200 * 86_400)
        for index in 0..<10 {
            try await journal.append(kind: index == 4 ? "cutover" : "gate", source: nil, actor: "test", action: "evaluate", outcome: "pass",
                                     detail: nil, at: old.addingTimeInterval(Double(index)))
        }
        try await journal.append(kind: "gate", source: nil, actor: "test", action: "evaluate", outcome: "pass")
        let checkpoint = try #require(try await journal.prune(olderThan: Date().addingTimeInterval(-90 * 86_400), keepKinds: ["cutover"], actor: "syncd"))
        #expect(checkpoint.pruned == 9 && checkpoint.kept.map(\.id) == [5])
        #expect(try await journal.count() == 3, "the cutover entry, the recent one and the checkpoint")
        #expect(try await journal.verifyChain().ok)
        try await database.tamper("DELETE FROM journal WHERE id = 5")
        let broken = try await journal.verifyChain()
        #expect(!broken.ok && broken.problem?.contains("kept by the prune checkpoint") == true, "\(broken)")
    }

    @Test("an SQLite journal moves in whole: same entries in order, chained anew, verifying")
    func importFromSQLite() async throws {
        let database = JournalDatabase()
        defer { Task { await database.drop() } }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-migrate-\(UUID().uuidString)/journal.sqlite").path
        let sqlite = try SQLiteJournal(path: path)
        for index in 0..<12 {
            try await sqlite.append(kind: "check", source: "s\(index % 3)", actor: "test", action: "verify", outcome: "pass",
                                    detail: .object(["n": .number(Double(index))]))
        }
        let entries = try await sqlite.entries(afterID: 0, limit: 100)
        #expect(entries.map(\.id) == Array(1...12))
        let journal = try await database.create()
        try await journal.importEntries(entries)
        #expect(try await journal.count() == 12)
        #expect(try await journal.verifyChain().ok)
        let moved = try await journal.recent(limit: 20).reversed().map { $0.detail?["n"] }
        #expect(moved == (0..<12).map { JSONValue.number(Double($0)) })
        #expect(try await journal.recent(limit: 1).first?.time == entries.last?.time)
    }

    @Test("with the journal database down calls fail naming it; once it is back the same journal works again, no restart")
    func recoversWhenTheDatabaseReturns() async throws {
        let database = JournalDatabase()
        defer { Task { await database.drop() } }
        let journal = try await database.create()
        try await journal.append(kind: "service", source: nil, actor: "test", action: "start", outcome: "ok")
        #expect(Self.run("bash \(JournalDatabase.script) stop journal") == 0)
        do {
            try await journal.append(kind: "gate", source: nil, actor: "test", action: "evaluate", outcome: "fail")
            Issue.record("an append with the journal database stopped succeeded")
        } catch {
            #expect("\(error)".contains("unreachable") || "\(error)".contains("connection"), "\(error)")
        }
        #expect(Self.run("bash \(JournalDatabase.script) start journal") == 0)
        try await journal.append(kind: "gate", source: nil, actor: "test", action: "evaluate", outcome: "pass")
        #expect(try await journal.count() == 2)
        #expect(try await journal.verifyChain().ok)
    }

    @Test("a schema newer than this syncd is refused, naming the versions")
    func newerSchemaIsRefused() async throws {
        let database = JournalDatabase()
        defer { Task { await database.drop() } }
        _ = try await database.create()
        try await database.tamper("INSERT INTO syncd_schema (version) VALUES (99)")
        await #expect(throws: JournalError.self) { _ = try await database.journal() }
    }

    static func run(_ command: String) -> Int32 {
        let status = system("\(command) >/dev/null 2>&1")
        return (status >> 8) & 0xff
    }
}
