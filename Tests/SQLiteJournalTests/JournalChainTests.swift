import CSQLite
import Foundation
import Testing
@testable import SQLiteJournal
import SyncCore

/// A journal file on disk, and raw SQL on it as someone with file access would run it.
struct JournalFile {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-journal-\(UUID().uuidString)/journal.sqlite").path

    func open() throws -> SQLiteJournal { try SQLiteJournal(path: path) }

    /// Runs SQL outside syncd (the tampering under test).
    func tamper(_ sql: String) throws {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw JournalError(message: "open failed") }
        defer { sqlite3_close(db) }
        var error: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(db, sql, nil, nil, &error) == SQLITE_OK else {
            defer { sqlite3_free(error) }
            throw JournalError(message: error.map { String(cString: $0) } ?? "exec failed")
        }
    }

    func query(_ sql: String) throws -> [[String?]] {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw JournalError(message: "open failed") }
        defer { sqlite3_close(db) }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else { throw JournalError(message: String(cString: sqlite3_errmsg(db))) }
        defer { sqlite3_finalize(statement) }
        var rows: [[String?]] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            rows.append((0..<sqlite3_column_count(statement)).map { sqlite3_column_text(statement, $0).map { String(cString: $0) } })
        }
        return rows
    }

    /// Ten entries, the fifth with a detail.
    func filled() async throws -> SQLiteJournal {
        let journal = try open()
        for index in 1...10 {
            try await journal.append(kind: index == 5 ? "check" : "gate", source: "pg", actor: "read-token", action: "evaluate",
                                     outcome: "pass", detail: index == 5 ? .object(["ratio": .number(1)]) : nil)
        }
        return journal
    }
}

@Suite struct JournalChainTests {
    @Test("an untouched journal verifies: every entry counted, the head is the last entry")
    func intact() async throws {
        let file = JournalFile()
        let verification = try await file.filled().verifyChain()
        #expect(verification.ok && verification.entries == 10 && verification.headEntry == 10, "\(verification)")
        #expect(verification.headHash.count == 64 && verification.headHash != JournalChain.genesis)
    }

    @Test("an edited entry is named: its content no longer matches its hash")
    func edited() async throws {
        let file = JournalFile()
        let journal = try await file.filled()
        try file.tamper("UPDATE journal SET detail = '{\"ratio\":0.5}' WHERE id = 5")
        let verification = try await journal.verifyChain()
        #expect(!verification.ok && verification.firstBadEntry == 5, "\(verification)")
        #expect(verification.problem?.contains("entry 5 was changed") == true, "\(String(describing: verification.problem))")
        try file.tamper("UPDATE journal SET detail = '{\"ratio\":1}' WHERE id = 5")
        #expect(try await journal.verifyChain().ok, "the original bytes verify again: the hash covers exactly what is stored")
        try file.tamper("UPDATE journal SET outcome = 'fail' WHERE id = 7")
        #expect(try await journal.verifyChain().firstBadEntry == 7)
    }

    @Test("a removed entry breaks the link of the one after it")
    func removed() async throws {
        let file = JournalFile()
        let journal = try await file.filled()
        try file.tamper("DELETE FROM journal WHERE id = 4")
        let verification = try await journal.verifyChain()
        #expect(!verification.ok && verification.firstBadEntry == 5, "\(verification)")
        #expect(verification.problem?.contains("does not follow entry 3") == true, "\(String(describing: verification.problem))")
    }

    @Test("the first entry removed: the journal no longer starts at the beginning")
    func firstRemoved() async throws {
        let file = JournalFile()
        let journal = try await file.filled()
        try file.tamper("DELETE FROM journal WHERE id = 1")
        let verification = try await journal.verifyChain()
        #expect(verification.firstBadEntry == 2 && verification.problem?.contains("the start of the journal") == true, "\(verification)")
    }

    @Test("an entry rewritten with a freshly computed hash still breaks the next link")
    func rewrittenWithItsOwnHash() async throws {
        let file = JournalFile()
        let journal = try await file.filled()
        // The exact stored time: printf's %!.17g round-trips a double (plain text rounds it).
        let row = try #require(try file.query("SELECT printf('%!.17g', time), prev_hash FROM journal WHERE id = 6").first)
        let timeText = try #require(row[0])
        let time = try #require(Double(timeText))
        let fields = JournalChain.Fields(time: time, kind: "gate", source: "pg", actor: "read-token", action: "evaluate", outcome: "fail", detail: nil)
        let forged = JournalChain.hash(previous: try #require(row[1]), fields)
        try file.tamper("UPDATE journal SET outcome = 'fail', hash = '\(forged)' WHERE id = 6")
        let verification = try await journal.verifyChain()
        #expect(verification.firstBadEntry == 7 && verification.problem?.contains("does not follow entry 6") == true, "\(verification)")
    }

    @Test("an entry inserted with an id of its own, even with a hash, is found")
    func inserted() async throws {
        let file = JournalFile()
        let journal = try await file.filled()
        try file.tamper("DELETE FROM journal WHERE id = 10")
        try await journal.append(kind: "gate", source: "pg", actor: "x", action: "evaluate", outcome: "pass")
        try file.tamper("""
            INSERT INTO journal (id, time, kind, source, actor, action, outcome, detail, prev_hash, hash)
            SELECT 10, time, kind, source, actor, action, 'pass', detail, prev_hash, hash FROM journal WHERE id = 9
            """)
        let verification = try await journal.verifyChain()
        #expect(!verification.ok && verification.firstBadEntry == 10, "\(verification)")
    }

    @Test("appends from two handles on one file (syncd and syncctl --config) stay one chain")
    func twoWriters() async throws {
        let file = JournalFile()
        let first = try file.open(), second = try file.open()
        await withThrowingTaskGroup(of: Void.self) { group in
            for journal in [first, second] {
                group.addTask { for _ in 0..<50 { try await journal.append(kind: "gate", source: nil, actor: "a", action: "evaluate", outcome: "pass") } }
            }
        }
        let verification = try await first.verifyChain()
        #expect(verification.ok && verification.entries == 100, "\(verification)")
    }

    @Test("a journal from before the chain is chained when first opened, and verifies")
    func migratesAnUnchainedJournal() async throws {
        let file = JournalFile()
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: file.path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        try file.tamper("""
            CREATE TABLE journal (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, kind TEXT NOT NULL, source TEXT,
                                  actor TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT);
            INSERT INTO journal (time, kind, source, actor, action, outcome, detail) VALUES
                (1700000000.25, 'service', NULL, 'syncd', 'start', 'ok', NULL),
                (1700000001.5, 'check', 'pg', 'admin-token', 'verify', 'pass', '{"ratio":1}');
            """)
        let journal = try file.open()
        try await journal.append(kind: "gate", source: "pg", actor: "r", action: "evaluate", outcome: "pass")
        let verification = try await journal.verifyChain()
        #expect(verification.ok && verification.entries == 3, "\(verification)")
        #expect(try await journal.recent(limit: 10).count == 3, "no entry lost in the migration")
    }

    @Test("the latest check of a source is an index probe, whatever the journal's size")
    func latestCheckIsAnIndexProbe() throws {
        let plans = [("pg", "check"), (nil, "check"), ("pg", nil)].map { source, kind in
            (SQLiteJournal.recentSQL(source: source, kind: kind))
        }
        let file = JournalFile()
        _ = try file.open()
        for sql in plans {
            let plan = try file.query("EXPLAIN QUERY PLAN " + sql.replacingOccurrences(of: "?1", with: "'pg'").replacingOccurrences(of: "?2", with: "'check'")
                .replacingOccurrences(of: "?3", with: "1"))
            let text = plan.map { ($0.last ?? nil) ?? "" }.joined(separator: " | ")
            #expect(text.contains("USING INDEX") || text.contains("USING COVERING INDEX"), "\(sql): \(text)")
            #expect(!text.contains("USE TEMP B-TREE"), "no sort of the whole journal: \(text)")
        }
    }
}

@Suite struct JournalPruneTests {
    /// Entries at given ages: `old` of them a year back (two of those cutover entries), then `recent` now.
    func aged(_ file: JournalFile, old: Int, recent: Int) async throws -> SQLiteJournal {
        let journal = try file.open()
        let yearAgo = Date().addingTimeInterval(-365 * 86_400)
        for index in 0..<old {
            let kind = index == 3 || index == 7 ? "cutover" : "gate"
            try await journal.append(kind: kind, source: nil, actor: "a", action: kind == "cutover" ? "finished" : "evaluate", outcome: "pass",
                                     detail: .object(["n": .number(Double(index))]), at: yearAgo.addingTimeInterval(Double(index)))
        }
        for _ in 0..<recent { try await journal.append(kind: "gate", source: nil, actor: "a", action: "evaluate", outcome: "pass") }
        return journal
    }

    @Test("retention prunes old entries, keeps cutover runs, and the chain still verifies from the checkpoint")
    func prunesAndStillVerifies() async throws {
        let file = JournalFile()
        let journal = try await aged(file, old: 20, recent: 5)
        let checkpoint = try #require(try await journal.prune(olderThan: Date().addingTimeInterval(-90 * 86_400), keepKinds: ["cutover"], actor: "syncd"))
        #expect(checkpoint.throughEntry == 20 && checkpoint.pruned == 18 && checkpoint.kept.map(\.id) == [4, 8], "\(checkpoint)")
        let entries = try await journal.recent(limit: 100)
        #expect(entries.count == 2 + 5 + 1, "two cutover entries, five recent, the checkpoint")
        #expect(entries.first?.action == JournalChain.pruneAction)
        let verification = try await journal.verifyChain()
        #expect(verification.ok && verification.checkpointEntry == entries.first?.id, "\(verification)")
        #expect(try await journal.prune(olderThan: Date().addingTimeInterval(-90 * 86_400), keepKinds: ["cutover"], actor: "syncd") == nil,
                "nothing more to prune")

        // Appends after the prune chain on, and a second prune keeps what the first kept.
        try await journal.append(kind: "gate", source: nil, actor: "a", action: "evaluate", outcome: "pass")
        #expect(try await journal.verifyChain().ok)
        let second = try #require(try await journal.prune(olderThan: Date().addingTimeInterval(3600), keepKinds: ["cutover"], actor: "syncd"))
        #expect(second.kept.map(\.id) == [4, 8] && second.pruned == 18 + 7, "\(second)")
        #expect(try await journal.verifyChain().ok)
    }

    @Test("after a prune, a kept entry removed or edited, or a pruned range forged, is found")
    func tamperingAfterAPrune() async throws {
        for (sql, bad, words) in [("DELETE FROM journal WHERE id = 8", Int64(8), "is missing"),
                                  ("UPDATE journal SET outcome = 'fail' WHERE id = 4", 4, "was changed"),
                                  ("DELETE FROM journal WHERE id = 21", 22, "does not follow entry 20, where the prune checkpoint 26 ends")] {
            let file = JournalFile()
            let journal = try await aged(file, old: 20, recent: 5)
            _ = try await journal.prune(olderThan: Date().addingTimeInterval(-90 * 86_400), keepKinds: ["cutover"], actor: "syncd")
            try file.tamper(sql)
            let verification = try await journal.verifyChain()
            #expect(!verification.ok && verification.firstBadEntry == bad, "\(sql): \(verification)")
            #expect(verification.problem?.contains(words) == true, "\(sql): \(String(describing: verification.problem))")
        }
    }
}
