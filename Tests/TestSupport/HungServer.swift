import Foundation
import Logging
import Metrics
import SyncCore
import SyncManager

/// What a hung DR server did to the gate of a source polled by its real poll loop.
public struct HungServerObservation: Sendable {
    /// From the freeze to the first failing verdict.
    public var secondsToFail: Double
    /// From the freeze to the first verdict naming the source unreachable (nil: none while frozen).
    /// At the very limit the latest sample can turn stale a few ms before the deadline's verdict
    /// lands; both fail the gate, and the deadline's must follow at once.
    public var secondsToUnreachable: Double?
    /// The limit the gate promises: one poll interval plus `poll_timeout`.
    public var limit: Double
    public var reasons: [String]
    /// Whether the gate passed again within 30 s of the thaw (the adapter reconnected).
    public var recovered: Bool

    /// What the poll deadline promises and this run broke; empty when it kept every promise. 0.3 s
    /// of slack for the test's own 50 ms sampling of the verdict and scheduling on two cores.
    public var brokenPromises: [String] {
        var broken: [String] = []
        if secondsToFail > limit + 0.3 {
            broken.append("the gate failed \(secondsToFail) s after the freeze (limit: poll interval + poll_timeout = \(limit) s)")
        }
        if let unreachable = secondsToUnreachable {
            if unreachable > limit + 0.3 {
                broken.append("the source was reported unreachable only \(unreachable) s after the freeze (limit \(limit) s)")
            }
        } else {
            broken.append("no verdict said the source is unreachable while it was frozen: \(reasons)")
        }
        if !recovered { broken.append("the source did not reconnect and pass again within 30 s of the thaw") }
        return broken
    }
}

/// Runs the source's poll loop, waits for the gate to pass (with a fresh, clean check, so only the
/// sample decides), freezes the server, times the gate until it fails, then thaws it and waits for
/// a pass again. `thaw` runs whatever happens, so a failing test never leaves a server stopped.
public func observeHungServer(config: SourceConfig, adapter: any SourceAdapter,
                              freeze: @Sendable () async throws -> Void,
                              thaw: @Sendable () async throws -> Void) async throws -> HungServerObservation {
    let monitor = SourceMonitor(config: config, adapter: adapter, historySize: 1000,
                                metricsFactory: NOOPMetricsHandler.instance, logger: Logger(label: "test"))
    let loop = Task { await monitor.run() }
    defer { loop.cancel() }
    @Sendable func verdict() async -> SourceVerdict {
        let now = Date()
        let check = CheckSummary(finishedAt: now, ratio: 1, countRatio: 1,
                                 scopes: [ScopeSummary(scope: "all", finishedAt: now, ratio: 1, countRatio: 1)], partial: false, complete: true)
        return Gate.evaluate(source: config.name, policy: config.policy, sample: await monitor.latest, check: check, now: now)
    }
    guard try await eventually(timeout: .seconds(30), every: .milliseconds(100), { await verdict().status == .pass }) else {
        throw TestSetupError("the gate of \(config.name) never passed before the freeze: \(await verdict().reasons)")
    }
    let limit = config.pollIntervalSeconds + config.pollTimeoutSeconds
    try await freeze()
    let frozen = ContinuousClock.now
    var failing: SourceVerdict?
    var failedAfter: Duration?
    var unreachableAfter: Duration?
    do {
        while frozen.duration(to: .now) < .seconds(limit * 3 + 5) {
            let current = await verdict()
            if current.status == .fail, failing == nil {
                failing = current
                failedAfter = frozen.duration(to: .now)
            }
            if current.reasons.contains(where: { $0.contains("source is unreachable") }) {
                unreachableAfter = frozen.duration(to: .now)
                break
            }
            // Once failing, the deadline's verdict must follow within the limit's slack.
            if let failedAfter, frozen.duration(to: .now) > failedAfter + .seconds(1) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
    } catch {
        try? await thaw()
        throw error
    }
    let elapsed = failedAfter ?? frozen.duration(to: .now)
    try await thaw()
    let recovered = try await eventually(timeout: .seconds(30), every: .milliseconds(100), { await verdict().status == .pass })
    guard let failing else {
        throw TestSetupError("the gate of \(config.name) kept passing for \(elapsed) with the server frozen")
    }
    func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
    return HungServerObservation(secondsToFail: seconds(elapsed), secondsToUnreachable: unreachableAfter.map(seconds), limit: limit,
                                 reasons: failing.reasons, recovered: recovered)
}

/// The source with a short poll interval and `poll_timeout`, and the gate's freshness limit they give.
public func withPollTiming(_ config: SourceConfig, interval: Double, timeout: Double) -> SourceConfig {
    var config = config
    config.pollIntervalSeconds = interval
    config.pollTimeoutSeconds = timeout
    config.policy.sampleMaxAgeSeconds = GatePolicy.sampleMaxAge(pollInterval: interval, pollTimeout: timeout)
    return config
}
