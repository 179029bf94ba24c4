import Foundation
import SyncCore

extension SyncManager {
    /// The actor name scheduled checks are journaled with.
    public static let schedulerActor = "scheduler"

    /// Runs one source's scheduled checks until cancelled: each `check_interval` after the latest
    /// check (a manual one counts), inside the window, jittered. A check already running for the
    /// source (a verify, a cutover) is never doubled: the run waits for it and starts from its result.
    func runSchedule(_ schedule: CheckSchedule, for monitor: SourceMonitor) async {
        let name = monitor.config.name
        // Drawn once per run, and the run planned once per latest check: waking up early (to
        // notice a manual check) neither redraws the jitter nor moves the time.
        var jitter = Double.random(in: 0...1)
        var planned: (basis: Date?, at: Date)?
        while !Task.isCancelled {
            let latest = await monitor.latestCheck?.finishedAt
            if planned == nil || planned?.basis != latest {
                planned = (latest, schedule.nextRun(latestCheck: latest, now: Date(), jitter: jitter))
            }
            let wait = (planned?.at ?? Date()).timeIntervalSinceNow
            if wait > 0 {
                do {
                    try await Task.sleep(for: .milliseconds(Int64(min(wait, 60) * 1000)))
                } catch {
                    return
                }
                continue
            }
            planned = nil
            // Woken after the window closed: plan again for its next opening.
            guard schedule.allows(Date()) else { continue }
            // Only the leader runs scheduled checks; a follower reads them from the shared journal.
            guard fence.allows() else {
                do { try await Task.sleep(for: .seconds(1)) } catch { return }
                continue
            }
            do {
                _ = try await check(source: name, options: CheckOptions(), actor: Self.schedulerActor)
            } catch is CancellationError {
                return
            } catch SyncError.busy {
                // Another operation holds the source; its check (if it is one) resets the clock.
                do {
                    try await Task.sleep(for: .milliseconds(Int64(min(schedule.intervalSeconds, 30) * 1000)))
                } catch {
                    return
                }
                continue
            } catch {
                // Journaled and recorded by the check itself (the gate fails on it); next try after the interval.
                logger.warning("scheduled check of \(name) failed: \(error)")
                do {
                    try await Task.sleep(for: .milliseconds(Int64(min(schedule.intervalSeconds, 30) * 1000)))
                } catch {
                    return
                }
            }
            jitter = Double.random(in: 0...1)
        }
    }
}
