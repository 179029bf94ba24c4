import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import SyncAPI
import SyncCore
import SQLiteJournal
import SourceRegistry
import SyncManager

/// `syncctl --config FILE`: the same engine as syncd, in this process, for as long as one command
/// runs. The API is served on an ephemeral loopback port inside the process and the command talks
/// to it exactly as to a daemon, so every answer, status code and journal entry is the same.
enum LocalEngine {
    static func run<T: Sendable>(config path: String, _ body: @escaping @Sendable (APIClient) async throws -> T) async throws -> T {
        let settings: SyncdConfig
        do {
            settings = try SourceRegistry.loadConfig(file: path)
        } catch {
            throw CLIError(message: "invalid configuration: \(error)")
        }
        var logger = Logger(label: "syncctl")
        // A failed operation reaches the user once, as the command's error; only what the command
        // cannot report itself (a journal that cannot be written after a failure) is logged.
        logger.logLevel = .error
        let journal: any JournalStore
        do {
            journal = try await JournalStores.open(settings.journal)
        } catch {
            throw CLIError(message: "\(error)")
        }
        let sources: [(SourceConfig, any SourceAdapter)]
        do {
            sources = try SourceRegistry.adapters(for: settings.sources)
        } catch {
            throw CLIError(message: "invalid configuration: \(error)")
        }
        // A shared journal has a leader elsewhere: this process holds no lease, so it writes
        // nothing leader-only (heartbeats, cutover runs) and says where such work goes.
        var noLease: String?
        if case .postgres = settings.journal {
            WriteFence.shared.revoke()
            noLease = "syncctl --config holds no lease over the shared journal; send leader-only work to the leader (syncctl --server https://<leader>)"
        }
        let registry = PrometheusCollectorRegistry()
        let manager = SyncManager(
            sources: sources, journal: journal,
            historySize: settings.historySize, metricsFactory: DescribedMetricsFactory(registry: registry), logger: logger,
            cutoverConcurrency: settings.cutoverConcurrency,
            lagSummaryInterval: settings.lagSummaryIntervalSeconds, exposureWindow: settings.exposureWindowSeconds,
            noLease: noLease)
        await manager.restoreLatestChecks()
        // One fresh sample per source, so status and the gate judge the present (two for throughput).
        await withTaskGroup(of: Void.self) { group in
            for monitor in manager.monitors { group.addTask { await monitor.poll() } }
        }

        let port = PortBox()
        let app = Application(
            router: SyncAPI.router(manager: manager, readToken: settings.readToken, adminToken: settings.adminToken, registry: registry),
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "syncctl"),
            onServerRunning: { channel in await port.set(channel.localAddress?.port) },
            logger: logger)
        // Whoever can read the config holds the admin token already.
        let token = settings.adminToken.value
        let server = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await server.run()
                return nil
            }
            let outcome: Result<T, Error>
            do {
                guard let bound = await port.wait() else { throw CLIError(message: "the in-process API could not bind a loopback port") }
                outcome = .success(try await body(try APIClient(server: "http://127.0.0.1:\(bound)", token: token)))
            } catch {
                outcome = .failure(error)
            }
            await server.triggerGracefulShutdown()
            try await group.waitForAll()
            for monitor in manager.monitors { await monitor.adapter.shutdown() }
            return try outcome.get()
        }
    }
}

/// The port the in-process server bound, handed from the server's callback to the command.
actor PortBox {
    private var port: Int??
    private var waiters: [CheckedContinuation<Int?, Never>] = []

    func set(_ value: Int?) {
        port = .some(value)
        waiters.forEach { $0.resume(returning: value) }
        waiters = []
    }

    func wait() async -> Int? {
        if let port { return port }
        return await withCheckedContinuation { waiters.append($0) }
    }
}
