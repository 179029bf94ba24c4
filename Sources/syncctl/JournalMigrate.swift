import ArgumentParser
import Foundation
import PostgresJournal
import SQLiteJournal
import SourceRegistry
import SyncCore

/// `syncctl journal migrate --from FILE --config CONFIG`: moves an SQLite journal into the shared
/// PostgreSQL journal the config names, before the instances that share it start. The source's
/// chain must verify (evidence that does not is not moved quietly), the target must be empty, and
/// the move is one transaction; the target records where its entries came from and the source's
/// head hash, so the old chain stays anchored.
struct MigrateJournal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Move an SQLite journal into the PostgreSQL journal of --config (exit 0 moved, 2 refused).")

    @Option(help: "The SQLite journal file to move.") var from: String
    @Option(help: "syncd's config file, whose journal is {postgres: ...}.") var config: String

    func run() async throws {
        let settings: SyncdConfig
        do {
            settings = try SourceRegistry.loadConfig(file: config)
        } catch {
            throw CLIError(message: "invalid configuration: \(error)")
        }
        guard case let .postgres(endpoint, sslmode) = settings.journal else {
            throw CLIError(message: "\(config): journal is an SQLite file (\(settings.journal)); migrate moves a journal into journal: {postgres: ...}")
        }
        guard FileManager.default.fileExists(atPath: from) else { throw CLIError(message: "--from \(from): no such file") }
        do {
            let source = try SQLiteJournal(path: from)
            let verification = try await source.verifyChain()
            guard verification.ok else {
                throw CLIError(message: "\(from) does not verify (entry \(verification.firstBadEntry.map(String.init) ?? "?"): \(verification.problem ?? "?")); not moved")
            }
            let target = PostgresJournal(endpoint: endpoint, sslmode: sslmode)
            try await target.prepare()
            let existing = try await target.count()
            guard existing == 0 else {
                throw CLIError(message: "the journal \(target.location) already holds \(existing) entries; migrate only into an empty one")
            }
            var moved: [JournalEntry] = []
            var after: Int64 = 0
            while true {
                let page = try await source.entries(afterID: after, limit: 5000)
                guard let last = page.last else { break }
                moved += page
                after = last.id
            }
            try await target.importEntries(moved)
            try await target.append(kind: "service", source: nil, actor: "syncctl", action: "migrate", outcome: "ok",
                                    detail: .object(["from": .string(from), "entries": .number(Double(moved.count)),
                                                     "source_head_hash": .string(verification.headHash)]))
            let result = try await target.verifyChain()
            print("moved \(moved.count) entries from \(from) into \(target.location); its chain \(result.ok ? "verifies" : "DOES NOT verify"), head \(result.headHash)")
            if !result.ok { throw ExitCode(1) }
        } catch let error as CLIError {
            throw error
        } catch let error as ExitCode {
            throw error
        } catch {
            throw CLIError(message: "\(error)")
        }
    }
}
