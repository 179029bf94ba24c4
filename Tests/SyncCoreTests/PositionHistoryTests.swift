import Foundation
import Testing
@testable import SyncCore

@Suite struct PositionHistoryTests {
    let start = Date(timeIntervalSince1970: 1_000)

    @Test func caughtUpIsZeroLag() {
        var history = PositionHistory()
        history.record(position: 100, at: start)
        history.record(position: 200, at: start.addingTimeInterval(5))
        #expect(history.lag(applied: 200, now: start.addingTimeInterval(60)) == .measured(0))
        #expect(history.lag(applied: 250, now: start.addingTimeInterval(60)) == .measured(0))
    }

    @Test func lagIsAgeOfTheOldestUnappliedWrite() {
        var history = PositionHistory()
        history.record(position: 100, at: start)
        history.record(position: 200, at: start.addingTimeInterval(10))
        history.record(position: 300, at: start.addingTimeInterval(20))
        // Applied 150: the primary first passed it at t=10, so at t=25 the DR side is 15 s behind.
        #expect(history.lag(applied: 150, now: start.addingTimeInterval(25)) == .measured(15))
        #expect(history.lag(applied: 200, now: start.addingTimeInterval(25)) == .measured(5))
    }

    @Test func anIdlePrimaryDoesNotGrowLag() {
        var history = PositionHistory()
        history.record(position: 100, at: start)
        // Hours of polls at the same position add nothing and the caught-up standby stays at 0.
        for minute in 1...300 { history.record(position: 100, at: start.addingTimeInterval(Double(minute) * 60)) }
        #expect(history.entries.count == 1)
        #expect(history.lag(applied: 100, now: start.addingTimeInterval(18_000)) == .measured(0))
        // A new write after the idle period is measured from when it was first seen, not from the last commit.
        history.record(position: 180, at: start.addingTimeInterval(18_000))
        #expect(history.lag(applied: 100, now: start.addingTimeInterval(18_003)) == .measured(3))
    }

    @Test func behindEverythingSeenIsALowerBound() {
        var history = PositionHistory()
        history.record(position: 500, at: start)
        #expect(history.lag(applied: 100, now: start.addingTimeInterval(7)) == .atLeast(7))
    }

    @Test func historyStaysBounded() {
        var history = PositionHistory(capacity: 10)
        for index in 0..<100 { history.record(position: Int64(index), at: start.addingTimeInterval(Double(index))) }
        #expect(history.entries.count == 10)
        _ = history.lag(applied: 95, now: start.addingTimeInterval(100))
        #expect(history.entries.first?.position == 95)
    }
}

@Suite struct CatchUpWatchTests {
    let start = ContinuousClock.now

    @Test("stalled only after the position stayed put for 3 poll intervals; any move starts the count again")
    func stallNeedsThreeUnchangedPolls() {
        var watch = CatchUpWatch(pollIntervalSeconds: 1)
        #expect(watch.stallAfter == .seconds(3))
        let observed = [
            watch.stalled(at: [10, 20], now: start),
            watch.stalled(at: [10, 20], now: start + .seconds(2.9)),
            watch.stalled(at: [10, 21], now: start + .seconds(3)),  // one partition moved
            watch.stalled(at: [10, 21], now: start + .seconds(5)),
            watch.stalled(at: [10, 21], now: start + .seconds(6)),
        ]
        #expect(observed == [false, false, false, false, true])
        #expect(watch.stallNote.contains("3 polls (3.0 s)"))
    }
}
