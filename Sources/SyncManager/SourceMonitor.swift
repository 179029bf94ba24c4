import Foundation
import Logging
import Metrics
import SyncCore

/// One source: its poll loop, a bounded sample history, the latest check, and a guard that lets
/// only one control operation run at a time.
public actor SourceMonitor {
    public nonisolated let config: SourceConfig
    public nonisolated let adapter: any SourceAdapter
    private let historySize: Int
    private var samples: [Sample] = []
    private var previous: Sample?
    /// When the poll still waiting for its adapter started; nil when none is outstanding.
    private var outstandingPoll: Date?
    public private(set) var latestCheck: CheckSummary?
    public private(set) var runningOperation: String?
    private let metrics: SourceMetrics
    private let logger: Logger

    public init(config: SourceConfig, adapter: any SourceAdapter, historySize: Int, metricsFactory: MetricsFactory, logger: Logger) {
        self.config = config
        self.adapter = adapter
        self.historySize = max(1, historySize)
        metrics = SourceMetrics(source: config.name, unit: adapter.volumeUnit, policy: config.policy, factory: metricsFactory)
        var logger = logger
        logger[metadataKey: "source"] = "\(config.name)"
        self.logger = logger
    }

    public var latest: Sample? { samples.last }

    /// A sample of the present for callers outside the poll loop (after a control action, for a
    /// cutover's gate): a new poll, or, while the loop's poll is still out, that poll's answer once
    /// it comes (at most poll_timeout). Polling beside an outstanding poll would record it as hung.
    public func freshSample() async -> Sample {
        let asked = Date()
        let deadline = ContinuousClock.now + .milliseconds(Int64((config.pollTimeoutSeconds + 0.5) * 1000))
        while outstandingPoll != nil, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if let latest = samples.last, latest.time >= asked { return latest }
        return await poll()
    }

    public func history(limit: Int) -> [Sample] {
        Array(samples.suffix(max(0, limit)))
    }

    /// Takes one sample now, records it and returns it. A poll that has not answered within
    /// `poll_timeout` records the source as unreachable at once; while it is still outstanding no
    /// second poll starts (the adapter bounds its own calls and abandons what hangs).
    @discardableResult
    public func poll() async -> Sample {
        let timeout = config.pollTimeoutSeconds
        var sample: Sample
        if let outstanding = outstandingPoll {
            let waited = Date().timeIntervalSince(outstanding)
            sample = unanswered(since: outstanding, message: "the poll started \(Gate.format(waited)) s ago has still not answered (poll_timeout \(Gate.format(timeout)) s): a server is hung or the network drops packets")
        } else {
            let started = Date()
            outstandingPoll = started
            let adapter = self.adapter
            let answer = DeadlineRace<Sample>()
            let timer = Task {
                try? await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
                answer.settle(nil)
            }
            Task {
                let sample = await adapter.sample()
                answer.settle(sample)
                timer.cancel()
                self.pollAnswered(started)
            }
            // Shutdown does not wait for a hung server's poll_timeout: the wait ends with the task.
            let answered = await withTaskCancellationHandler {
                await answer.value()
            } onCancel: {
                answer.settle(nil)
                timer.cancel()
            }
            if Task.isCancelled, answered == nil { return unanswered(since: started, message: "polling stopped") }
            if let answered {
                sample = answered
            } else {
                sample = unanswered(since: started, message: "no answer within poll_timeout (\(Gate.format(timeout)) s): a server is hung or the network drops packets")
            }
        }
        if let previous, let before = previous.position, let after = sample.position {
            let seconds = sample.time.timeIntervalSince(previous.time)
            if seconds > 0 { sample.throughput = Double(max(0, after - before)) / seconds }
        }
        if sample.position != nil { previous = sample }
        if let last = samples.last, last.state != sample.state {
            logger.info("state \(last.state.rawValue) -> \(sample.state.rawValue)", metadata: sample.errors.isEmpty ? nil : ["errors": "\(sample.errors.joined(separator: "; "))"])
        }
        samples.append(sample)
        if samples.count > historySize { samples.removeFirst(samples.count - historySize) }
        metrics.record(sample)
        metrics.recordVerdict(Gate.evaluate(source: config.name, policy: config.policy, sample: sample, check: latestCheck, now: sample.time),
                              check: latestCheck, now: sample.time)
        return sample
    }

    private func pollAnswered(_ started: Date) {
        if outstandingPoll == started { outstandingPoll = nil }
    }

    private func unanswered(since started: Date, message: String) -> Sample {
        // Stamped now: the verdict is about the present, and the last answer's lag is unknown.
        Sample(time: Date(), state: .unreachable, unit: adapter.volumeUnit, topology: samples.last?.topology,
               errors: ["\(config.name): \(message)"])
    }

    /// Polls on the configured interval until the task is cancelled.
    public func run() async {
        let interval = Duration.milliseconds(Int64(config.pollIntervalSeconds * 1000))
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let started = clock.now
            await poll()
            let next = started + interval
            do {
                try await Task.sleep(until: max(next, clock.now), clock: clock)
            } catch {
                return
            }
        }
    }

    /// A partial check updates only the scopes it covered (see `CheckSummary.merging`).
    public func recordCheck(_ check: CheckSummary, durationSeconds: Double? = nil) {
        latestCheck = latestCheck.map { $0.merging(check) } ?? check
        if let durationSeconds { metrics.checkDuration.record(durationSeconds) }
    }

    func begin(_ operation: String) throws {
        if let runningOperation {
            throw SyncError.busy("source '\(config.name)' is busy: \(runningOperation) is still running; wait for it to finish")
        }
        runningOperation = operation
    }

    func end() {
        runningOperation = nil
    }

    func recordGate(_ status: GateStatus) {
        metrics.recordGate(status)
    }
}

/// Prometheus-facing gauges of one source, through swift-metrics.
struct SourceMetrics: Sendable {
    let lagSeconds: Gauge
    let lagVolume: Gauge
    let throughput: Gauge
    let states: [SyncState: Gauge]
    let gatePass: Counter
    let gateFail: Counter
    /// The verdict the gate would give now (1 pass, 0 fail), kept at every poll.
    let gatePassing: Gauge
    let checkRatio: Gauge
    let checkAge: Gauge
    let checkDuration: Gauge

    init(source: String, unit: VolumeUnit, policy: GatePolicy, factory: MetricsFactory) {
        let dimensions = [("source", source)]
        lagSeconds = Gauge(label: "syncd_lag_seconds", dimensions: dimensions, factory: factory)
        lagVolume = Gauge(label: "syncd_lag_\(unit.rawValue)", dimensions: dimensions, factory: factory)
        throughput = Gauge(label: "syncd_throughput_\(unit.rawValue)_per_second", dimensions: dimensions, factory: factory)
        var states: [SyncState: Gauge] = [:]
        for state in SyncState.allCases {
            states[state] = Gauge(label: "syncd_source_state", dimensions: dimensions + [("state", state.rawValue)], factory: factory)
        }
        self.states = states
        gatePass = Counter(label: "syncd_gate_decisions_total", dimensions: dimensions + [("result", "pass")], factory: factory)
        gateFail = Counter(label: "syncd_gate_decisions_total", dimensions: dimensions + [("result", "fail")], factory: factory)
        gatePassing = Gauge(label: "syncd_gate_pass", dimensions: dimensions, factory: factory)
        checkRatio = Gauge(label: "syncd_check_ratio", dimensions: dimensions, factory: factory)
        checkAge = Gauge(label: "syncd_check_age_seconds", dimensions: dimensions, factory: factory)
        checkDuration = Gauge(label: "syncd_check_duration_seconds", dimensions: dimensions, factory: factory)
        // No check yet: unknown, not 0 (a dashboard must not show a ratio of 0 or a fresh check).
        for gauge in [checkRatio, checkAge, checkDuration] { gauge.record(Double.nan) }
        gatePassing.record(0)
        // The policy beside the figures, so alert rules compare each source with its own limits.
        Gauge(label: "syncd_lag_budget_seconds", dimensions: dimensions, factory: factory).record(policy.lagBudgetSeconds)
        Gauge(label: "syncd_check_max_age_seconds", dimensions: dimensions, factory: factory).record(policy.checkMaxAgeSeconds)
    }

    func recordVerdict(_ verdict: SourceVerdict, check: CheckSummary?, now: Date) {
        gatePassing.record(verdict.status == .pass ? 1 : 0)
        checkRatio.record(check?.ratio ?? .nan)
        checkAge.record(check.map { max(0, now.timeIntervalSince($0.finishedAt)) } ?? .nan)
    }

    func record(_ sample: Sample) {
        // Unknown lag is exported as NaN, never as 0: a dashboard must not show "no lag" for "no data".
        lagSeconds.record(sample.lagSeconds ?? .nan)
        lagVolume.record(sample.lagVolume.map(Double.init) ?? .nan)
        throughput.record(sample.throughput ?? 0)
        for (state, gauge) in states {
            gauge.record(state == sample.state ? 1 : 0)
        }
    }

    func recordGate(_ status: GateStatus) {
        (status == .pass ? gatePass : gateFail).increment()
    }
}

/// The first of an answer and a deadline: whichever settles first wins, the other is ignored.
final class DeadlineRace<Value: Sendable>: @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = NSLock()
    private var result: Value??
    private var waiter: CheckedContinuation<Value?, Never>?

    func settle(_ value: Value?) {
        lock.lock()
        guard result == nil else { lock.unlock(); return }
        result = .some(value)
        let waiter = self.waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume(returning: value)
    }

    func value() async -> Value? {
        await withCheckedContinuation { continuation in
            lock.lock()
            if let result {
                lock.unlock()
                continuation.resume(returning: result)
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }
}
