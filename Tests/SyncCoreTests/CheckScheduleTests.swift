import Foundation
import Testing
@testable import SyncCore

@Suite struct CheckScheduleTests {
    let utc = TimeZone(identifier: "UTC")!

    func date(_ text: String, zone: String = "UTC") -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: zone)
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.date(from: text)!
    }

    @Test("without a window: interval after the latest check, at once when none ran, jitter within a tenth of the interval (at most 5 min)")
    func intervalAndJitter() {
        let schedule = CheckSchedule(intervalSeconds: 3600)
        let now = date("2026-03-01 12:00:00")
        #expect(schedule.nextRun(latestCheck: nil, now: now, jitter: 0) == now)
        #expect(schedule.nextRun(latestCheck: date("2026-03-01 11:30:00"), now: now, jitter: 0) == date("2026-03-01 12:30:00"))
        #expect(schedule.nextRun(latestCheck: date("2026-03-01 11:30:00"), now: now, jitter: 1) == date("2026-03-01 12:35:00"))
        #expect(schedule.nextRun(latestCheck: date("2026-03-01 09:00:00"), now: now, jitter: 0.5) == date("2026-03-01 12:02:30"), "overdue: now")
        #expect(CheckSchedule(intervalSeconds: 60).maximumJitterSeconds == 6)
        #expect(schedule.longestGapSeconds == 3600)
    }

    @Test("a window moves a due check to its next opening; one crossing midnight works; the jitter never pushes a run past the closing")
    func windows() throws {
        let window = try #require(CheckSchedule.Window.parse("01:00-05:00"))
        let schedule = CheckSchedule(intervalSeconds: 3600, window: window)
        #expect(schedule.nextRun(latestCheck: date("2026-03-01 02:10:00"), now: date("2026-03-01 02:30:00"), jitter: 0) == date("2026-03-01 03:10:00"))
        #expect(schedule.nextRun(latestCheck: date("2026-03-01 04:30:00"), now: date("2026-03-01 04:40:00"), jitter: 0) == date("2026-03-02 01:00:00"), "05:30 is outside: tomorrow's opening")
        #expect(schedule.nextRun(latestCheck: nil, now: date("2026-03-01 23:00:00"), jitter: 0) == date("2026-03-02 01:00:00"))
        #expect(schedule.allows(date("2026-03-01 04:59:00")) && !schedule.allows(date("2026-03-01 05:00:00")))

        let night = CheckSchedule(intervalSeconds: 7200, window: try #require(CheckSchedule.Window.parse("22:00-02:00")))
        #expect(night.allows(date("2026-03-01 23:30:00")) && night.allows(date("2026-03-02 01:59:00")) && !night.allows(date("2026-03-01 12:00:00")))
        #expect(night.nextRun(latestCheck: nil, now: date("2026-03-01 12:00:00"), jitter: 0) == date("2026-03-01 22:00:00"))
        #expect(night.nextRun(latestCheck: date("2026-03-01 23:00:00"), now: date("2026-03-01 23:05:00"), jitter: 0) == date("2026-03-02 01:00:00"))

        let short = CheckSchedule(intervalSeconds: 36_000, window: try #require(CheckSchedule.Window.parse("01:00-01:10")))
        let run = short.nextRun(latestCheck: nil, now: date("2026-03-01 01:09:30"), jitter: 1)
        #expect(run < date("2026-03-01 01:10:00"), "jitter (up to 5 min) cut to the 30 s left: \(run)")
    }

    @Test("window times are local to time_zone, across a daylight-saving change")
    func timeZones() throws {
        let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
        let schedule = CheckSchedule(intervalSeconds: 3600, window: try #require(CheckSchedule.Window.parse("01:00-05:00")), timeZone: berlin)
        // 2026-03-29: clocks go from 02:00 to 03:00 in Berlin; 01:00 local is still 00:00 UTC.
        #expect(schedule.nextRun(latestCheck: nil, now: date("2026-03-28 12:00:00"), jitter: 0) == date("2026-03-29 00:00:00"))
        // In summer 01:00 Berlin is 23:00 UTC the day before.
        #expect(schedule.nextRun(latestCheck: nil, now: date("2026-07-01 12:00:00"), jitter: 0) == date("2026-07-01 23:00:00"))
    }

    @Test("the longest gap: from a window's last check to the next opening; a warning only when it exceeds check_max_age")
    func gaps() throws {
        let window = CheckSchedule(intervalSeconds: 3600, window: try #require(CheckSchedule.Window.parse("01:00-05:00")))
        #expect(window.longestGapSeconds == 21 * 3600, "last check 04:00, next 01:00")
        let warning = try #require(window.gapWarning(checkMaxAgeSeconds: 900))
        #expect(warning.contains("check_window 01:00-05:00 (UTC)") && warning.contains("21h") && warning.contains("check_max_age 15m"), "\(warning)")
        #expect(window.gapWarning(checkMaxAgeSeconds: 86_400) == nil)
        #expect(CheckSchedule(intervalSeconds: 600).gapWarning(checkMaxAgeSeconds: 900) == nil)
        #expect(CheckSchedule(intervalSeconds: 1800).gapWarning(checkMaxAgeSeconds: 900) != nil)
    }

    @Test("windows parse as HH:MM-HH:MM only", arguments: ["01:00", "1:00-05:00", "01:00-01:00", "25:00-01:00", "01:60-02:00", "01:00-05:00-06:00", "ab:cd-01:00", ""])
    func badWindows(_ text: String) {
        #expect(CheckSchedule.Window.parse(text) == nil)
    }
}
