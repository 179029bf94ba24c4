import Foundation
import SyncCore

/// A consistency check started through the manager, followed by its id.
public struct CheckJob: Sendable, Codable {
    public enum Status: String, Sendable, Codable {
        case running, done, error
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

/// Running and recent check jobs (the newest 100 are kept in memory; results live in the journal).
actor CheckJobs {
    private var jobs: [String: CheckJob] = [:]
    private var order: [String] = []
    static let kept = 100

    func add(_ job: CheckJob) {
        jobs[job.id] = job
        order.append(job.id)
        while order.count > CheckJobs.kept {
            let oldest = order.removeFirst()
            if jobs[oldest]?.status == .running {
                order.append(oldest)
                break
            }
            jobs[oldest] = nil
        }
    }

    func update(_ id: String, _ change: @Sendable (inout CheckJob) -> Void) {
        guard var job = jobs[id] else { return }
        change(&job)
        jobs[id] = job
    }

    func job(_ id: String) -> CheckJob? {
        jobs[id]
    }
}
