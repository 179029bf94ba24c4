import CSQLite
import Foundation
import SyncCore

/// The audit journal: an embedded SQLite file that survives restarts. Owns its `sqlite3` handle;
/// every call runs on the journal's own serial queue, off the cooperative pool.
public final class SQLiteJournal: JournalStore, @unchecked Sendable {
    // @unchecked: `db` is used only on `queue` (serial) and in deinit.
    private let db: OpaquePointer
    private let queue = BlockingQueue(label: "syncd.journal")
    public let path: String
    public var location: String { path }

    public init(path: String) throws {
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw JournalError(message: "cannot create the journal directory \(directory): \(error.localizedDescription)")
        }
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw JournalError(message: "cannot open the journal \(path): \(message)")
        }
        db = handle
        sqlite3_busy_timeout(handle, 5000)
        try SQLiteJournal.exec(handle, """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            CREATE TABLE IF NOT EXISTS journal (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                time REAL NOT NULL,
                kind TEXT NOT NULL,
                source TEXT,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                outcome TEXT NOT NULL,
                detail TEXT
            );
            CREATE INDEX IF NOT EXISTS journal_source_time ON journal (source, time);
            CREATE INDEX IF NOT EXISTS journal_kind_source_id ON journal (kind, source, id);
            CREATE INDEX IF NOT EXISTS journal_kind_id ON journal (kind, id);
            CREATE INDEX IF NOT EXISTS journal_source_id ON journal (source, id);
            """)
        try SQLiteJournal.addChain(handle)
    }

    /// Journals from before the hash chain get its two columns, and their entries are chained in
    /// id order once, when first opened by a syncd that has it.
    private static func addChain(_ db: OpaquePointer) throws {
        guard try !chainColumns(db) else { return }
        try exec(db, "BEGIN IMMEDIATE")
        do {
            try exec(db, "ALTER TABLE journal ADD COLUMN prev_hash TEXT; ALTER TABLE journal ADD COLUMN hash TEXT;")
            var previous = JournalChain.genesis
            var rows: [(Int64, JournalChain.Fields)] = []
            try forEachRow(db, afterID: 0) { id, fields, _, _ in rows.append((id, fields)); return true }
            let update = try prepare(db, "UPDATE journal SET prev_hash = ?, hash = ? WHERE id = ?")
            defer { sqlite3_finalize(update) }
            for (id, fields) in rows {
                let hash = JournalChain.hash(previous: previous, fields)
                sqlite3_reset(update)
                bind(update, 1, previous)
                bind(update, 2, hash)
                sqlite3_bind_int64(update, 3, id)
                guard sqlite3_step(update) == SQLITE_DONE else { throw JournalError(message: "journal: chaining entry \(id) failed: \(String(cString: sqlite3_errmsg(db)))") }
                previous = hash
            }
            try exec(db, "COMMIT")
        } catch {
            try? exec(db, "ROLLBACK")
            throw error
        }
    }

    deinit {
        sqlite3_close_v2(db)
    }

    private static func exec(_ db: OpaquePointer, _ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(db, sql, nil, nil, &error) == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(error)
            throw JournalError(message: "journal: \(message)")
        }
    }

    @discardableResult
    public func append(kind: String, source: String?, actor: String, action: String, outcome: String,
                       detail: JSONValue?, at time: Date) async throws -> JournalEntry {
        let fields = try JournalChain.Fields(time: time, kind: kind, source: source, actor: actor, action: action, outcome: outcome, detail: detail)
        let box = Handle(db)
        let id = try await queue.run { () throws -> Int64 in
            try SQLiteJournal.transaction(box.db) { try SQLiteJournal.appendChained(box.db, fields) }
        }
        return JournalEntry(id: id, time: time, kind: kind, source: source, actor: actor, action: action, outcome: outcome, detail: detail)
    }

    /// Inside a write transaction: the link is read and the entry written with no other writer
    /// between (another process, e.g. `syncctl --config`, may share the file).
    private static func appendChained(_ db: OpaquePointer, _ fields: JournalChain.Fields, after head: String? = nil) throws -> Int64 {
        let previous = try head ?? headHash(db)
        let statement = try prepare(db, """
            INSERT INTO journal (time, kind, source, actor, action, outcome, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        defer { sqlite3_finalize(statement) }
        sqlite3_bind_double(statement, 1, fields.time)
        bind(statement, 2, fields.kind)
        bind(statement, 3, fields.source)
        bind(statement, 4, fields.actor)
        bind(statement, 5, fields.action)
        bind(statement, 6, fields.outcome)
        bind(statement, 7, fields.detail)
        bind(statement, 8, previous)
        bind(statement, 9, JournalChain.hash(previous: previous, fields))
        guard sqlite3_step(statement) == SQLITE_DONE else {
            throw JournalError(message: "journal write failed: \(String(cString: sqlite3_errmsg(db)))")
        }
        return sqlite3_last_insert_rowid(db)
    }

    /// The newest entry's hash (the genesis value for an empty journal).
    private static func headHash(_ db: OpaquePointer) throws -> String {
        let last = try prepare(db, "SELECT hash FROM journal ORDER BY id DESC LIMIT 1")
        defer { sqlite3_finalize(last) }
        return sqlite3_step(last) == SQLITE_ROW ? (text(last, 0) ?? JournalChain.genesis) : JournalChain.genesis
    }

    private static func transaction<T>(_ db: OpaquePointer, _ body: () throws -> T) throws -> T {
        try exec(db, "BEGIN IMMEDIATE")
        do {
            let result = try body()
            try exec(db, "COMMIT")
            return result
        } catch {
            try? exec(db, "ROLLBACK")
            throw error
        }
    }

    /// Streams entries in id order from `afterID`; `body` returns false to stop. The chain's
    /// columns exist by then: `init` adds them before anything reads.
    private static func forEachRow(_ db: OpaquePointer, afterID: Int64,
                                   _ body: (Int64, JournalChain.Fields, String?, String?) throws -> Bool) throws {
        let statement = try prepare(db, "SELECT id, time, kind, source, actor, action, outcome, detail, prev_hash, hash FROM journal WHERE id > ? ORDER BY id")
        defer { sqlite3_finalize(statement) }
        sqlite3_bind_int64(statement, 1, afterID)
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { return }
            guard step == SQLITE_ROW else { throw JournalError(message: "journal read failed: \(String(cString: sqlite3_errmsg(db)))") }
            let fields = JournalChain.Fields(time: sqlite3_column_double(statement, 1), kind: text(statement, 2) ?? "", source: text(statement, 3),
                                             actor: text(statement, 4) ?? "", action: text(statement, 5) ?? "", outcome: text(statement, 6) ?? "",
                                             detail: text(statement, 7))
            guard try body(sqlite3_column_int64(statement, 0), fields, text(statement, 8), text(statement, 9)) else { return }
        }
    }

    /// Whether the journal has the hash chain's columns yet.
    private static func chainColumns(_ db: OpaquePointer) throws -> Bool {
        let statement = try prepare(db, "SELECT 1 FROM pragma_table_info('journal') WHERE name = 'hash'")
        defer { sqlite3_finalize(statement) }
        return sqlite3_step(statement) == SQLITE_ROW
    }

    /// The newest prune checkpoint, if entries were ever pruned.
    private static func latestCheckpoint(_ db: OpaquePointer) throws -> (Int64, JournalChain.Checkpoint)? {
        let statement = try prepare(db, "SELECT id, detail FROM journal WHERE kind = 'service' AND action = ? ORDER BY id DESC LIMIT 1")
        defer { sqlite3_finalize(statement) }
        bind(statement, 1, JournalChain.pruneAction)
        guard sqlite3_step(statement) == SQLITE_ROW, let detail = text(statement, 1) else { return nil }
        guard let checkpoint = try? JSONCoding.typedDecoder.decode(JournalChain.Checkpoint.self, from: Data(detail.utf8)) else {
            throw JournalError(message: "journal: the prune checkpoint \(sqlite3_column_int64(statement, 0)) cannot be read")
        }
        return (sqlite3_column_int64(statement, 0), checkpoint)
    }

    public func verifyChain() async throws -> JournalVerification {
        let box = Handle(db)
        return try await queue.run { () throws -> JournalVerification in
            // One read transaction: appends during the walk do not shift what is checked.
            try SQLiteJournal.exec(box.db, "BEGIN")
            defer { try? SQLiteJournal.exec(box.db, "COMMIT") }
            let found: (Int64, JournalChain.Checkpoint)?
            do {
                found = try SQLiteJournal.latestCheckpoint(box.db)
            } catch let error as JournalError {
                return JournalVerification(ok: false, entries: 0, headHash: JournalChain.genesis, headEntry: nil, problem: error.message)
            }
            var verifier = JournalChainVerifier(checkpoint: found?.1, checkpointEntry: found?.0)
            try SQLiteJournal.forEachRow(box.db, afterID: 0) { id, fields, prev, hash in
                verifier.add(.init(id: id, fields: fields, prevHash: prev, hash: hash))
            }
            return verifier.finish()
        }
    }

    public func prune(olderThan cutoff: Date, keepKinds: Set<String>, actor: String) async throws -> JournalChain.Checkpoint? {
        let box = Handle(db)
        let keep = keepKinds.sorted()
        return try await queue.run { () throws -> JournalChain.Checkpoint? in
            try SQLiteJournal.transaction(box.db) { () throws -> JournalChain.Checkpoint? in
                let db = box.db
                let previous = try SQLiteJournal.latestCheckpoint(db)?.1
                let floor = previous?.throughEntry ?? 0
                // The newest entry older than the cutoff ends the pruned range; its hash is what the
                // entry after it links to.
                let last = try SQLiteJournal.prepare(db, "SELECT id, hash FROM journal WHERE time < ? AND id > ? ORDER BY id DESC LIMIT 1")
                defer { sqlite3_finalize(last) }
                sqlite3_bind_double(last, 1, cutoff.timeIntervalSince1970)
                sqlite3_bind_int64(last, 2, floor)
                guard sqlite3_step(last) == SQLITE_ROW, let throughHash = SQLiteJournal.text(last, 1) else { return nil }
                let throughEntry = sqlite3_column_int64(last, 0)

                // The checkpoint links to the newest entry, which this prune may remove.
                let head = try SQLiteJournal.headHash(db)
                let marks = keep.map { _ in "?" }.joined(separator: ", ")
                let keptFilter = keep.isEmpty ? "0" : "kind IN (\(marks))"
                var kept = previous?.kept ?? []
                let keptQuery = try SQLiteJournal.prepare(db, "SELECT id, hash FROM journal WHERE id > ? AND id <= ? AND \(keptFilter) ORDER BY id")
                defer { sqlite3_finalize(keptQuery) }
                sqlite3_bind_int64(keptQuery, 1, floor)
                sqlite3_bind_int64(keptQuery, 2, throughEntry)
                for (index, kind) in keep.enumerated() { SQLiteJournal.bind(keptQuery, Int32(index + 3), kind) }
                while sqlite3_step(keptQuery) == SQLITE_ROW {
                    kept.append(.init(id: sqlite3_column_int64(keptQuery, 0), hash: SQLiteJournal.text(keptQuery, 1) ?? ""))
                }

                let delete = try SQLiteJournal.prepare(db, "DELETE FROM journal WHERE id > ? AND id <= ? AND NOT (\(keptFilter))")
                defer { sqlite3_finalize(delete) }
                sqlite3_bind_int64(delete, 1, floor)
                sqlite3_bind_int64(delete, 2, throughEntry)
                for (index, kind) in keep.enumerated() { SQLiteJournal.bind(delete, Int32(index + 3), kind) }
                guard sqlite3_step(delete) == SQLITE_DONE else {
                    throw JournalError(message: "journal: pruning failed: \(String(cString: sqlite3_errmsg(db)))")
                }
                let pruned = Int(sqlite3_changes(db))
                let checkpoint = JournalChain.Checkpoint(throughEntry: throughEntry, throughHash: throughHash, pruned: pruned + (previous?.pruned ?? 0),
                                                         olderThan: cutoff, kept: kept)
                let detail = String(decoding: try JSONCoding.encoder.encode(checkpoint), as: UTF8.self)
                _ = try SQLiteJournal.appendChained(db, JournalChain.Fields(time: Date().timeIntervalSince1970, kind: "service", source: nil, actor: actor,
                                                                           action: JournalChain.pruneAction, outcome: "ok", detail: detail),
                                                after: head)
                return checkpoint
            }
        }
    }

    /// Entries in id order after `afterID`, at most `limit` (moving a journal elsewhere).
    public func entries(afterID: Int64, limit: Int) async throws -> [JournalEntry] {
        let box = Handle(db)
        let rows = try await queue.run { () throws -> [(Int64, JournalChain.Fields)] in
            var rows: [(Int64, JournalChain.Fields)] = []
            try SQLiteJournal.forEachRow(box.db, afterID: afterID) { id, fields, _, _ in
                rows.append((id, fields))
                return rows.count < limit
            }
            return rows
        }
        return rows.map { id, fields in
            JournalEntry(id: id, time: Date(timeIntervalSince1970: fields.time), kind: fields.kind, source: fields.source, actor: fields.actor,
                         action: fields.action, outcome: fields.outcome,
                         detail: fields.detail.flatMap { try? JSONCoding.decoder.decode(JSONValue.self, from: Data($0.utf8)) })
        }
    }

    /// Only the filters given, so the (kind, source, id) indexes answer "the latest check" with a probe.
    static func recentSQL(source: String?, kind: String?) -> String {
        let filters = [source.map { _ in "source = ?1" }, kind.map { _ in "kind = ?2" }].compactMap { $0 }
        return "SELECT id, time, kind, source, actor, action, outcome, detail FROM journal "
            + (filters.isEmpty ? "" : "WHERE " + filters.joined(separator: " AND ") + " ")
            + "ORDER BY id DESC LIMIT ?3"
    }

    /// Newest first.
    public func recent(limit: Int, source: String?, kind: String?) async throws -> [JournalEntry] {
        let box = Handle(db)
        let rows = try await queue.run { () throws -> [(Int64, Double, String, String?, String, String, String, String?)] in
            let statement = try SQLiteJournal.prepare(box.db, SQLiteJournal.recentSQL(source: source, kind: kind))
            defer { sqlite3_finalize(statement) }
            if let source { SQLiteJournal.bind(statement, 1, source) }
            if let kind { SQLiteJournal.bind(statement, 2, kind) }
            sqlite3_bind_int64(statement, 3, Int64(max(1, limit)))
            var rows: [(Int64, Double, String, String?, String, String, String, String?)] = []
            while true {
                let step = sqlite3_step(statement)
                if step == SQLITE_DONE { break }
                guard step == SQLITE_ROW else {
                    throw JournalError(message: "journal read failed: \(String(cString: sqlite3_errmsg(box.db)))")
                }
                rows.append((sqlite3_column_int64(statement, 0), sqlite3_column_double(statement, 1),
                             SQLiteJournal.text(statement, 2) ?? "", SQLiteJournal.text(statement, 3), SQLiteJournal.text(statement, 4) ?? "",
                             SQLiteJournal.text(statement, 5) ?? "", SQLiteJournal.text(statement, 6) ?? "", SQLiteJournal.text(statement, 7)))
            }
            return rows
        }
        return rows.map { row in
            let detail = row.7.flatMap { try? JSONCoding.decoder.decode(JSONValue.self, from: Data($0.utf8)) }
            return JournalEntry(id: row.0, time: Date(timeIntervalSince1970: row.1), kind: row.2, source: row.3,
                                actor: row.4, action: row.5, outcome: row.6, detail: detail)
        }
    }

    private static func prepare(_ db: OpaquePointer, _ sql: String) throws -> OpaquePointer {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw JournalError(message: "journal: \(String(cString: sqlite3_errmsg(db)))")
        }
        return statement
    }

    /// SQLITE_TRANSIENT: SQLite copies the bytes before the Swift string goes away.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private static func bind(_ statement: OpaquePointer, _ index: Int32, _ value: String?) {
        if let value {
            sqlite3_bind_text(statement, index, value, -1, transient)
        } else {
            sqlite3_bind_null(statement, index)
        }
    }

    private static func text(_ statement: OpaquePointer, _ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(statement, column) else { return nil }
        return String(cString: pointer)
    }
}

private struct Handle: @unchecked Sendable {
    let db: OpaquePointer
    init(_ db: OpaquePointer) { self.db = db }
}
