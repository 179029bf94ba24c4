import Foundation
import SyncCore

/// A consistency check started through the manager, followed by its id.
public struct CheckJob: Sendable, Codable {
    public enum Status: String, Sendable, Codable {
        case running, done, error, cancelled
    }

    public var id: String
    public var source: String
    public var actor: String
    public var status: Status
    public var startedAt: Date
    public var progress: CheckProgress
    public var result: CheckResult?
    public var error: String?
}

/// Something the manager runs in the background and clients follow by id.
protocol BackgroundJob: Sendable {
    var id: String { get }
    var isRunning: Bool { get }
}

extension CheckJob: BackgroundJob {
    var isRunning: Bool { status == .running }
}

typealias CheckJobs = JobBoard<CheckJob>

/// Running and recent jobs (the newest 100 are kept in memory; results live in the journal).
/// Waiters of a job are woken when it ends (a continuation each), never by polling.
actor JobBoard<Job: BackgroundJob> {
    private var jobs: [String: Job] = [:]
    private var tasks: [String: Task<Void, Never>] = [:]
    private var waiters: [String: [UUID: CheckedContinuation<Void, Never>]] = [:]
    private var order: [String] = []
    static var kept: Int { 100 }

    func add(_ job: Job) {
        jobs[job.id] = job
        order.append(job.id)
        while order.count > Self.kept {
            let oldest = order.removeFirst()
            if jobs[oldest]?.isRunning == true {
                order.append(oldest)
                break
            }
            jobs[oldest] = nil
        }
    }

    func attach(_ id: String, task: Task<Void, Never>) {
        if jobs[id]?.isRunning == true { tasks[id] = task }
    }

    func update(_ id: String, _ change: @Sendable (inout Job) -> Void) {
        guard var job = jobs[id] else { return }
        change(&job)
        jobs[id] = job
        if !job.isRunning {
            tasks[id] = nil
            for waiter in (waiters.removeValue(forKey: id) ?? [:]).values { waiter.resume() }
        }
    }

    func job(_ id: String) -> Job? {
        jobs[id]
    }

    /// Newest first.
    func all() -> [Job] {
        order.reversed().compactMap { jobs[$0] }
    }

    /// Cancels a running job's task; false when it is not running.
    func cancel(_ id: String) -> Bool {
        guard jobs[id]?.isRunning == true, let task = tasks[id] else { return false }
        task.cancel()
        return true
    }

    /// Cancels every running job (shutdown); returns their ids.
    func cancelAll() -> [String] {
        let running = jobs.values.filter(\.isRunning).map(\.id)
        for id in running { tasks[id]?.cancel() }
        return running
    }

    /// Whether any job is still running.
    var anyRunning: Bool { jobs.values.contains(where: \.isRunning) }

    /// Answers every waiting long poll now, with the job as it stands (shutdown).
    func wakeAll() {
        let all = waiters
        waiters = [:]
        for (_, tickets) in all { for waiter in tickets.values { waiter.resume() } }
    }

    /// The job once it has ended or `timeout` has passed, whichever comes first.
    func job(_ id: String, waitingUpTo timeout: Duration) async -> Job? {
        guard jobs[id]?.isRunning == true, timeout > .zero else { return jobs[id] }
        let ticket = UUID()
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.wake(id, ticket)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if jobs[id]?.isRunning == true {
                    waiters[id, default: [:]][ticket] = continuation
                } else {
                    continuation.resume()
                }
            }
        } onCancel: {
            Task { await self.wake(id, ticket) }
        }
        timer.cancel()
        return jobs[id]
    }

    private func wake(_ id: String, _ ticket: UUID) {
        waiters[id]?.removeValue(forKey: ticket)?.resume()
    }
}
