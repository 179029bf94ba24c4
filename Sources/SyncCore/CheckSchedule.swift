import Foundation

/// When syncd runs a source's consistency check by itself: every `check_interval` after the latest
/// check (whoever ran it), only inside `check_window` when one is set (local times of `time_zone`,
/// UTC by default; a window may cross midnight), with a random delay added so sources and
/// instances do not all start at once.
public struct CheckSchedule: Sendable, Equatable {
    public var intervalSeconds: Double
    public var window: Window?
    public var timeZone: TimeZone

    /// A daily window in minutes after local midnight; `end` before `start` crosses midnight.
    public struct Window: Sendable, Equatable, CustomStringConvertible {
        public var startMinute: Int
        public var endMinute: Int

        public init(startMinute: Int, endMinute: Int) {
            self.startMinute = startMinute
            self.endMinute = endMinute
        }

        /// "01:00-05:00"; nil when the text is not two HH:MM times that differ.
        public static func parse(_ text: String) -> Window? {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, let start = minute(parts[0]), let end = minute(parts[1]), start != end else { return nil }
            return Window(startMinute: start, endMinute: end)
        }

        static func minute(_ text: Substring) -> Int? {
            let pieces = text.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count == 2, pieces[0].count == 2, pieces[1].count == 2,
                  let hour = Int(pieces[0]), let minute = Int(pieces[1]), (0...23).contains(hour), (0...59).contains(minute) else { return nil }
            return hour * 60 + minute
        }

        /// Minutes the window lasts.
        public var length: Int { endMinute > startMinute ? endMinute - startMinute : 1440 - startMinute + endMinute }

        func contains(minute: Int) -> Bool {
            endMinute > startMinute ? (startMinute..<endMinute).contains(minute) : (minute >= startMinute || minute < endMinute)
        }

        public var description: String {
            String(format: "%02d:%02d-%02d:%02d", startMinute / 60, startMinute % 60, endMinute / 60, endMinute % 60)
        }
    }

    public init(intervalSeconds: Double, window: Window? = nil, timeZone: TimeZone = TimeZone(identifier: "UTC")!) {
        self.intervalSeconds = intervalSeconds
        self.window = window
        self.timeZone = timeZone
    }

    /// The longest random delay added to a run: a tenth of the interval, at most five minutes.
    public var maximumJitterSeconds: Double { min(intervalSeconds / 10, 300) }

    /// When the next check is due: `interval` after the latest one (at once when none has run),
    /// moved to the window's next opening when it falls outside, plus `jitter` (0...1 of the
    /// maximum). A window that would close before the jittered start is not missed: the jitter is
    /// cut to fit.
    public func nextRun(latestCheck: Date?, now: Date, jitter: Double) -> Date {
        let due = max(now, latestCheck.map { $0.addingTimeInterval(intervalSeconds) } ?? now)
        let delay = maximumJitterSeconds * min(max(jitter, 0), 1)
        guard let window else { return due.addingTimeInterval(delay) }
        let start = window.contains(minute: minuteOfDay(due)) ? due : nextOpening(of: window, after: due)
        let closes = closing(of: window, containing: start)
        return start.addingTimeInterval(min(delay, max(0, closes.timeIntervalSince(start) - 1)))
    }

    /// Whether a check may start at `date` (inside the window, or always without one).
    public func allows(_ date: Date) -> Bool {
        window.map { $0.contains(minute: minuteOfDay(date)) } ?? true
    }

    /// The longest time between two scheduled checks: the interval without a window; with one,
    /// the time from the last check a window has room for to the next window's opening.
    public var longestGapSeconds: Double {
        guard let window else { return intervalSeconds }
        let length = Double(window.length) * 60
        let checksAfterOpening = ((length - 1) / intervalSeconds).rounded(.down)
        return max(intervalSeconds, 86_400 - checksAfterOpening * intervalSeconds)
    }

    /// The operator's warning when the schedule leaves the gate without a fresh check for part of
    /// the day; nil when it does not.
    public func gapWarning(checkMaxAgeSeconds: Double) -> String? {
        let gap = longestGapSeconds
        guard gap > checkMaxAgeSeconds else { return nil }
        let schedule = "check_interval \(DurationText.describe(intervalSeconds))"
            + (window.map { " in check_window \($0) (\(zoneName))" } ?? "")
        return "\(schedule) leaves up to \(DurationText.describe(gap.rounded())) between two checks, longer than check_max_age "
            + "\(DurationText.describe(checkMaxAgeSeconds)): the gate fails for want of a fresh check part of the time"
    }

    /// The zone as the config names it (Foundation calls UTC "GMT").
    public var zoneName: String { timeZone.identifier == "GMT" ? "UTC" : timeZone.identifier }

    func calendar() -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    func minuteOfDay(_ date: Date) -> Int {
        let parts = calendar().dateComponents([.hour, .minute], from: date)
        return (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
    }

    /// The first opening of `window` after `date` (today's or tomorrow's, in local time).
    func nextOpening(of window: Window, after date: Date) -> Date {
        next(minute: window.startMinute, after: date) ?? date.addingTimeInterval(86_400)
    }

    /// When the window that is open at `date` closes.
    func closing(of window: Window, containing date: Date) -> Date {
        next(minute: window.endMinute, after: date) ?? date
    }

    /// The first time after `date` whose local time is `minute` after midnight (DST-aware).
    func next(minute: Int, after date: Date) -> Date? {
        let calendar = calendar()
        let midnight = calendar.startOfDay(for: date)
        for day in 0...2 {
            guard let base = calendar.date(byAdding: .day, value: day, to: midnight),
                  let time = calendar.date(bySettingHour: minute / 60, minute: minute % 60, second: 0, of: base)
            else { continue }
            if time > date { return time }
        }
        return nil
    }
}
