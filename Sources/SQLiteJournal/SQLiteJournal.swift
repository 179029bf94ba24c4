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
            """)
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
        let detailText = try detail.map { String(decoding: try JSONCoding.encoder.encode($0), as: UTF8.self) }
        let box = Handle(db)
        let id = try await queue.run { () throws -> Int64 in
            let statement = try SQLiteJournal.prepare(box.db, """
                INSERT INTO journal (time, kind, source, actor, action, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)
                """)
            defer { sqlite3_finalize(statement) }
            sqlite3_bind_double(statement, 1, time.timeIntervalSince1970)
            SQLiteJournal.bind(statement, 2, kind)
            SQLiteJournal.bind(statement, 3, source)
            SQLiteJournal.bind(statement, 4, actor)
            SQLiteJournal.bind(statement, 5, action)
            SQLiteJournal.bind(statement, 6, outcome)
            SQLiteJournal.bind(statement, 7, detailText)
            guard sqlite3_step(statement) == SQLITE_DONE else {
                throw JournalError(message: "journal write failed: \(String(cString: sqlite3_errmsg(box.db)))")
            }
            return sqlite3_last_insert_rowid(box.db)
        }
        return JournalEntry(id: id, time: time, kind: kind, source: source, actor: actor, action: action, outcome: outcome, detail: detail)
    }

    /// Newest first.
    public func recent(limit: Int, source: String?, kind: String?) async throws -> [JournalEntry] {
        let box = Handle(db)
        let rows = try await queue.run { () throws -> [(Int64, Double, String, String?, String, String, String, String?)] in
            let statement = try SQLiteJournal.prepare(box.db, """
                SELECT id, time, kind, source, actor, action, outcome, detail FROM journal
                WHERE (?1 IS NULL OR source = ?1) AND (?2 IS NULL OR kind = ?2)
                ORDER BY id DESC LIMIT ?3
                """)
            defer { sqlite3_finalize(statement) }
            SQLiteJournal.bind(statement, 1, source)
            SQLiteJournal.bind(statement, 2, kind)
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
