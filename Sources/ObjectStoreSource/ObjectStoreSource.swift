import CurlClient
import Foundation
import SyncCore

/// A primary bucket and its DR copy on S3-compatible servers, replicated natively (S3 replication,
/// SeaweedFS filer.sync, ...) or by syncd itself (config `mode: managed`).
public actor ObjectStoreSource: SourceAdapter {
    public nonisolated let name: String
    public nonisolated let kind: SourceKind = .objectStore
    public nonisolated let volumeUnit: VolumeUnit = .objects
    let config: SourceConfig
    let options: ObjectStoreOptions
    nonisolated let primary: S3Bucket
    nonisolated let dr: S3Bucket
    let replication: ManagedReplication?
    static let fullSyncTimeout: Duration = .seconds(3600)
    /// Backlog objects whose S3 replication status is read per poll (HEAD on the primary).
    static let replicationStatusSample = 20

    public init(config: SourceConfig) {
        name = config.name
        self.config = config
        options = config.objectStore ?? ObjectStoreOptions(mode: .native)
        primary = S3Bucket(endpoint: config.primary, label: describeSide(.primary, config.primary), concurrency: options.concurrency)
        dr = S3Bucket(endpoint: config.dr, label: describeSide(.dr, config.dr), concurrency: options.concurrency)
        replication = options.mode == .managed ? ManagedReplication() : nil
    }

    public func capabilities() async -> Set<SourceOperation> {
        options.mode == .managed ? [.pause, .resume, .fullSync, .drain, .check, .reconcile] : [.drain, .check, .reconcile]
    }

    public func shutdown() async {}

    var copier: ObjectCopier { ObjectCopier(primary: primary, dr: dr, options: options) }

    /// The daemon runs managed replication here; syncctl's in-process engine does not.
    public func runBackground(paused: Bool) async {
        guard let replication else { return }
        if paused { replication.pause() }
        await replication.run(copier: copier, scan: BucketScan(primary: primary, dr: dr, concurrency: options.concurrency), prefix: options.prefix, interval: .milliseconds(Int64(min(config.pollIntervalSeconds, 5) * 1000)))
    }

    /// Both buckets compared by key, size and ETag, as their listings stream.
    func scan(collectSameSize: Bool = false) async throws -> BucketComparison {
        try await BucketScan(primary: primary, dr: dr, concurrency: options.concurrency).compare(prefix: options.prefix, collectSameSize: collectSameSize)
    }

    // MARK: sample

    public func sample() async -> Sample {
        let now = Date()
        var sample = Sample(time: now, state: .inSync, unit: .objects, topology: options.mode.rawValue)
        let comparison: BucketComparison
        do {
            comparison = try await scan()
        } catch {
            return .failed(error, time: now, unit: .objects, topology: sample.topology)
        }
        let backlog = comparison.backlog
        sample.lagVolume = Int64(backlog.count)
        sample.position = Int64(comparison.primaryCount - backlog.count)
        sample.lagSeconds = backlog.map { max(0, now.timeIntervalSince($0.lastModified)) }.max() ?? 0
        sample.details["objects_primary"] = String(comparison.primaryCount)
        sample.details["objects_dr"] = String(comparison.drCount)
        sample.details["backlog_objects"] = String(backlog.count)
        sample.details["backlog_bytes"] = String(backlog.reduce(Int64(0)) { $0 + $1.size })
        sample.details["dr_only_objects"] = String(comparison.extra.count)
        sample.details["listing"] = "ListObjectsV2 of both buckets\(options.prefix.isEmpty ? "" : " under '\(options.prefix)'") every poll, compared as the listings stream"
        if let oldest = backlog.min(by: { $0.lastModified < $1.lastModified }) { sample.details["oldest_backlog_object"] = oldest.key }
        if options.mode == .native, !backlog.isEmpty {
            // S3 replication reports per object on HEAD; servers without it (SeaweedFS) send nothing.
            var statuses: [String: Int] = [:]
            for entry in backlog.prefix(Self.replicationStatusSample) {
                if let status = try? await primary.head(entry.key)?.replicationStatus { statuses[status, default: 0] += 1 }
            }
            if statuses.isEmpty {
                sample.details["replication_status"] = "not reported by the primary (no x-amz-replication-status on HEAD)"
            } else {
                sample.details["replication_status"] = statuses.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
                    + " (of the \(min(backlog.count, Self.replicationStatusSample)) oldest backlog objects)"
                if let failed = statuses["FAILED"] { sample.errors.append("S3 replication reports FAILED for \(failed) object(s)") }
            }
        }
        if let replication {
            let status = replication.status
            sample.details["managed_copy"] = status.phase == .stopped ? "runs in the syncd daemon (not in this process)" : status.phase.rawValue
            if status.phase != .stopped { sample.details["objects_copied"] = String(status.copied) }
            if status.phase == .failed, let error = status.error {
                sample.state = .broken
                sample.errors.append("managed copy failed (retrying): \(error)")
                return sample
            }
            if status.phase == .paused {
                sample.state = .paused
                return sample
            }
        }
        if let lag = sample.lagSeconds, lag > config.policy.lagBudgetSeconds {
            sample.state = .lagging
        } else {
            sample.state = backlog.isEmpty ? .inSync : .syncing
        }
        return sample
    }

    // MARK: control

    func requireHostedReplication(_ operation: SourceOperation) throws -> ManagedReplication {
        guard let replication else {
            throw SyncError.unsupported(operation: operation, reason: "not supported by native replication: the server's own replication (S3 replication rules, SeaweedFS filer.sync, ...) copies '\(name)' and syncd does not control it",
                                        remedy: "control it on the server (e.g. stop or start weed filer.sync, or the bucket's replication rule), or use mode: managed")
        }
        guard replication.isHosted else {
            throw SyncError.invalidState("the managed copy of '\(name)' runs inside the syncd daemon, not in this process; send the command to syncd (syncctl --url URL \(operation.rawValue) ...)")
        }
        return replication
    }

    public func pause() async throws {
        let replication = try requireHostedReplication(.pause)
        replication.pause()
        try await Poll.until("the managed copy to pause", every: .milliseconds(50), timeout: .seconds(60)) { replication.status.phase == .paused }
    }

    public func resume() async throws {
        let replication = try requireHostedReplication(.resume)
        replication.resume()
        try await Poll.until("the managed copy to resume", every: .milliseconds(50), timeout: .seconds(60)) { replication.status.phase != .paused }
    }

    @discardableResult
    public func forceFullSync() async throws -> String {
        let replication = try requireHostedReplication(.fullSync)
        _ = try await replication.fullSync()
        return "every object missing or stale in the DR bucket was copied from the primary"
    }

    /// What the managed copy was doing, for a drain that timed out: why the DR bucket is behind.
    func managedCopyState() -> String {
        guard let replication else { return "" }
        guard replication.isHosted else { return "; the managed copy is not running in this process" }
        let status = replication.status
        let state = switch status.phase {
        case .running: "is running"
        case .paused: "is paused"
        case .failed: "is failing"
        case .stopped: "has stopped"
        }
        return "; the managed copy \(state), \(status.copied) object(s) copied by this process"
            + (status.error.map { ", its last attempt failed: \($0)" } ?? "")
    }

    /// Waits until no object the primary had at the call (by LastModified) is missing or stale on the DR side.
    public func waitForDrain(timeout: Duration) async throws -> DrainResult {
        let clock = ContinuousClock()
        let started = clock.now
        let callTime = Date()
        if let replication, replication.isHosted, replication.isPaused {
            throw SyncError.invalidState("the managed copy of '\(name)' is paused: the DR bucket cannot catch up; resume first")
        }
        var backlog: [ObjectEntry] = []
        return try await Poll.first(every: .milliseconds(500), timeout: timeout, timedOut: {
            "the DR bucket did not catch up within \(timeout.seconds) s: \(backlog.count) object(s) written before the call are still missing or stale (e.g. '\(backlog.first.map { DisplayText.escape($0.key) } ?? "?")')"
                + managedCopyState()
        }) {
            backlog = try await scan().backlog.filter { $0.lastModified <= callTime }
            return backlog.isEmpty
                ? DrainResult(target: "every object written before \(ISO8601DateFormatter().string(from: callTime))",
                              reached: "on the DR side", waitedSeconds: (clock.now - started).seconds) : nil
        }
    }
}
