import Foundation
import Logging
import ServiceLifecycle
import SourceRegistry
import SyncAPI
import SyncCore
import UnixSignals

/// On SIGHUP, re-reads the config file and swaps in its tokens, so a token kept in a file can be
/// rotated without a restart. Only the tokens change; an `{env:}` token keeps the value syncd
/// started with (a process's environment is fixed), and every other setting needs a restart.
struct TokenReloader: Service {
    let configFile: String
    let tokens: AccessTokens
    let journal: any JournalStore
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            await reload()
        }
    }

    func reload() async {
        do {
            let settings = try SourceRegistry.loadConfig(file: configFile)
            tokens.replace(read: settings.readTokens, admin: settings.adminTokens)
            logger.notice("SIGHUP: tokens re-read from \(configFile)",
                          metadata: ["read_tokens": "\(settings.readTokens.count)", "admin_tokens": "\(settings.adminTokens.count)"])
            _ = try? await journal.append(kind: "service", source: nil, actor: "syncd", action: "reload-tokens", outcome: "ok",
                                          detail: .object(["config": .string(configFile),
                                                           "read_tokens": .number(Double(settings.readTokens.count)),
                                                           "admin_tokens": .number(Double(settings.adminTokens.count))]))
        } catch {
            // A broken edit keeps the tokens in force: a typo must not lock every caller out.
            logger.error("SIGHUP: the config is not valid, the tokens in force are kept: \(error)")
            _ = try? await journal.append(kind: "service", source: nil, actor: "syncd", action: "reload-tokens", outcome: "error",
                                          detail: .object(["config": .string(configFile), "error": .string("\(error)")]))
        }
    }
}
