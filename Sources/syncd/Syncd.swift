import ArgumentParser
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import Prometheus
import ServiceLifecycle
import SyncAPI
import SyncCore
import SQLiteJournal
import SourceRegistry
import CurlClient
import PostgresJournal
import SyncManager

@main
struct Syncd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syncd",
        abstract: "Data sync and consistency verifier: polls every configured source and serves the gate API.")

    @Option(name: .shortAndLong, help: "Path of the YAML configuration file.")
    var config: String = "config/syncd.yaml"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Flag(help: "Validate the configuration, print a summary and exit (0 valid, 2 invalid).")
    var checkConfig = false

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            printError("syncd: unknown log level '\(logLevel)'")
            throw ExitCode(2)
        }
        let settings: SyncdConfig
        let sources: [(SourceConfig, any SourceAdapter)]
        let tls: TLSConfiguration?
        do {
            settings = try SourceRegistry.loadConfig(file: config)
            sources = try SourceRegistry.adapters(for: settings.sources)
            tls = try settings.tls.map { try TLSSetup.serverConfiguration($0) }
        } catch {
            printError("syncd: invalid configuration: \(error)")
            throw ExitCode(2)
        }
        // Not errors: a schedule that leaves gaps is allowed, but the operator hears about it.
        let warnings = settings.sources.compactMap { source in
            source.checkSchedule?.gapWarning(checkMaxAgeSeconds: source.policy.checkMaxAgeSeconds).map { "source '\(source.name)': \($0)" }
        }
        if checkConfig {
            for warning in warnings { printError("syncd: warning: \(config): \(warning)") }
            print("\(config): valid; listen \(tls == nil ? "http" : "https")://\(settings.listenHost):\(settings.listenPort)"
                  + (settings.tls?.clientCA == nil ? "" : " (client certificates required)") + "; journal \(settings.journal); sources: "
                  + settings.sources.map { "\($0.name) (\($0.kind.rawValue))" }.joined(separator: ", "))
            return
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "syncd")
        for warning in warnings { logger.warning("\(warning)") }

        let journal: any JournalStore
        do {
            journal = try await JournalStores.open(settings.journal)
            try await journal.append(kind: "service", source: nil, actor: "syncd", action: "start", outcome: "ok",
                                     detail: .object(["config": .string(config), "sources": .array(settings.sources.map { .string($0.name) })]))
        } catch {
            printError("syncd: \(error)")
            throw ExitCode(2)
        }

        // A shared journal: instances elect a leader through a lease in the same database.
        var leadership: LeadershipSettings?
        if case let .postgres(endpoint, sslmode) = settings.journal {
            leadership = LeadershipSettings(store: PostgresLease(endpoint: endpoint, sslmode: sslmode), instance: settings.instance,
                                            ttlSeconds: settings.leaseTTLSeconds)
        }
        let registry = PrometheusCollectorRegistry()
        let manager = SyncManager(
            sources: sources, journal: journal,
            historySize: settings.historySize, metricsFactory: DescribedMetricsFactory(registry: registry), logger: logger,
            cutoverConcurrency: settings.cutoverConcurrency,
            lagSummaryInterval: settings.lagSummaryIntervalSeconds, exposureWindow: settings.exposureWindowSeconds,
            journalRetention: settings.journalRetentionSeconds, leadership: leadership)
        await verifyJournal(journal, registry: registry, logger: logger)
        do {
            try await manager.recoverFromPreviousRun()
        } catch {
            logger.warning("could not look for work the previous run left unfinished: \(error)")
        }
        let tokens = AccessTokens(read: settings.readTokens, admin: settings.adminTokens)
        // A follower forwards admin calls to the leader, trusting instance.ca and presenting its
        // own certificate (for a leader that requires client certificates).
        let forwarding = leadership.map { _ in
            LeaderForwarding(instance: settings.instance,
                             tls: TLSClientFiles(caFile: settings.instance.caFile, certFile: settings.tls?.cert.path, keyFile: settings.tls?.key.path))
        }
        // Sessions of the status page: signed with a key of this process (a restart signs everyone out).
        let sessions = UISessions(tokens: tokens, secure: tls != nil)
        let router = SyncAPI.router(manager: manager, tokens: tokens, registry: registry, forwarding: forwarding, sessions: sessions)
        let app: Application<RouterResponder<APIContext>>
        do {
            app = Application(
                router: router,
                server: try SyncAPI.httpServer(tls: tls),
                configuration: .init(address: .hostname(settings.listenHost, port: settings.listenPort), serverName: "syncd"),
                logger: logger)
        } catch {
            printError("syncd: cannot set up TLS: \(error)")
            throw ExitCode(2)
        }
        if tls == nil, !["127.0.0.1", "::1", "localhost"].contains(settings.listenHost) {
            logger.warning("the API is plain HTTP on \(settings.listenHost): tokens cross the network in clear; configure tls: {cert, key}")
        }
        // Shut down in reverse order: the manager first (new work refused, checks and cutover
        // runs cancelled, long polls answered, the mirror and managed copy stopped), so the HTTP
        // server, shut down last, has no request left waiting.
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: app),
                       .init(service: TokenReloader(configFile: config, tokens: tokens, journal: journal, logger: logger)),
                       .init(service: manager)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        // Whatever still waits after this is cancelled, so syncd exits within 5 s whatever is
        // unreachable (a connection's TLS close adds at most its 0.5 s shutdownTimeout).
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(3)
        let group = ServiceGroup(configuration: groupConfiguration)
        logger.info("syncd starting", metadata: ["listen": "\(tls == nil ? "http" : "https")://\(settings.listenHost):\(settings.listenPort)", "config": "\(config)"])
        do {
            try await group.run()
        } catch {
            _ = try? await journal.append(kind: "service", source: nil, actor: "syncd", action: "stop", outcome: "error",
                                      detail: .object(["error": .string("\(error)")]))
            logger.error("syncd stopped with an error: \(error)")
            throw ExitCode(2)
        }
        _ = try? await journal.append(kind: "service", source: nil, actor: "syncd", action: "stop", outcome: "ok")
        logger.info("syncd stopped")
    }
}

/// At start: a journal whose chain does not verify is reported (a warning, `syncd_journal_chain_ok`
/// 0, an entry) but does not stop syncd: the gate must keep answering, and the evidence of the
/// break stays in place for whoever investigates.
func verifyJournal(_ journal: any JournalStore, registry: PrometheusCollectorRegistry, logger: Logger) async {
    let gauge = registry.makeGauge(name: "syncd_journal_chain_ok", help: DescribedMetricsFactory.help(for: "syncd_journal_chain_ok"))
    do {
        let verification = try await journal.verifyChain()
        gauge.set(Double(verification.ok ? 1 : 0))
        if verification.ok {
            logger.info("journal chain verified", metadata: ["entries": "\(verification.entries)", "head": "\(verification.headHash)"])
        } else {
            logger.warning("journal chain broken: \(verification.problem ?? "?")", metadata: ["entry": "\(verification.firstBadEntry.map(String.init) ?? "-")"])
        }
        _ = try? await journal.append(kind: "service", source: nil, actor: "syncd", action: "verify-journal",
                                      outcome: verification.ok ? "ok" : "broken", detail: try? JSONValue.from(verification))
    } catch {
        gauge.set(Double(0))
        logger.warning("journal chain could not be verified: \(error)")
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
