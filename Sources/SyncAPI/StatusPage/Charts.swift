import Foundation
import SyncCore

/// Inline SVG charts of sample history: no script, no external asset.
enum Charts {
    /// A small line of lag over the kept history; gaps where the lag was unknown.
    static func sparkline(_ samples: [Sample], label: String) -> String {
        let width = 120.0, height = 24.0
        let values = samples.map(\.lagSeconds)
        let peak = max(values.compactMap { $0 }.max() ?? 0, 0.001)
        let segments = lines(values, width: width, height: height, left: 0, top: 0, peak: peak)
        let known = values.compactMap { $0 }
        let title = known.isEmpty ? "\(label): no known lag in the history"
            : "\(label): lag over the last \(samples.count) samples, highest \(HTML.seconds(known.max())) s, latest \(HTML.seconds(values.last ?? nil)) s"
        return """
        <svg class="spark" role="img" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" xmlns="http://www.w3.org/2000/svg"><title>\(HTML.escape(title))</title>\(segments.joined())</svg>
        """
    }

    /// A chart with labelled axes: `values` over `times`, the y axis in `unit`.
    static func chart(title: String, unit: String, times: [Date], values: [Double?], now: Date) -> String {
        let width = 640.0, height = 220.0, left = 64.0, right = 16.0, top = 24.0, bottom = 40.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let known = values.compactMap { $0 }
        let peak = niceCeiling(max(known.max() ?? 0, 0.001))
        var parts: [String] = []
        // Horizontal grid and y labels at 0, half and the top.
        for fraction in [0.0, 0.5, 1.0] {
            let y = top + plotHeight * (1 - fraction)
            parts.append("<line class=\"grid\" x1=\"\(left)\" y1=\"\(y)\" x2=\"\(left + plotWidth)\" y2=\"\(y)\"/>")
            parts.append("<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(format(peak * fraction))</text>")
        }
        parts.append("<line class=\"axis\" x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(top + plotHeight)\"/>")
        parts.append("<line class=\"axis\" x1=\"\(left)\" y1=\"\(top + plotHeight)\" x2=\"\(left + plotWidth)\" y2=\"\(top + plotHeight)\"/>")
        parts.append("<text x=\"12\" y=\"\(top + plotHeight / 2)\" transform=\"rotate(-90 12 \(top + plotHeight / 2))\" text-anchor=\"middle\">\(HTML.escape(unit))</text>")
        // Time axis: how long before now, at the start, middle and end of the history.
        if let first = times.first {
            let span = max(now.timeIntervalSince(first), 1)
            for (fraction, anchor) in [(0.0, "start"), (0.5, "middle"), (1.0, "end")] {
                let ago = span * (1 - fraction)
                let label = ago < 1 ? "now" : "−\(duration(ago))"
                parts.append("<text x=\"\(left + plotWidth * fraction)\" y=\"\(top + plotHeight + 16)\" text-anchor=\"\(anchor)\">\(label)</text>")
            }
            parts.append("<text x=\"\(left + plotWidth / 2)\" y=\"\(height - 6)\" text-anchor=\"middle\">time (before now)</text>")
            parts += lines(values, width: plotWidth, height: plotHeight, left: left, top: top, peak: peak)
        } else {
            parts.append("<text x=\"\(left + plotWidth / 2)\" y=\"\(top + plotHeight / 2)\" text-anchor=\"middle\">no samples yet</text>")
        }
        return """
        <figure><svg class="chart" role="img" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" xmlns="http://www.w3.org/2000/svg"><title>\(HTML.escape(title))</title>\(parts.joined())</svg><figcaption>\(HTML.escape(title)) (\(HTML.escape(unit)))\(known.count < values.count ? " — gaps where it was unknown" : "")</figcaption></figure>
        """
    }

    /// Polylines through the known values, broken where a value is unknown.
    private static func lines(_ values: [Double?], width: Double, height: Double, left: Double, top: Double, peak: Double) -> [String] {
        guard !values.isEmpty else { return [] }
        let step = values.count > 1 ? width / Double(values.count - 1) : 0
        var segments: [[String]] = [[]]
        for (index, value) in values.enumerated() {
            guard let value else {
                if !(segments.last?.isEmpty ?? true) { segments.append([]) }
                continue
            }
            let x = left + Double(index) * step
            let y = top + height * (1 - min(max(value, 0) / peak, 1))
            segments[segments.count - 1].append(String(format: "%.1f,%.1f", x, y))
        }
        return segments.filter { !$0.isEmpty }.map { points in
            // A lone point still shows: a zero-length line with round caps would vanish, so draw it twice apart.
            let drawn = points.count == 1 ? [points[0], points[0]] : points
            return "<polyline points=\"\(drawn.joined(separator: " "))\"/>"
        }
    }

    static func niceCeiling(_ value: Double) -> Double {
        let magnitude = pow(10, floor(log10(value)))
        for factor in [1.0, 2.0, 5.0, 10.0] where factor * magnitude >= value { return factor * magnitude }
        return 10 * magnitude
    }

    static func format(_ value: Double) -> String {
        if value >= 1_000_000 { return String(format: "%.1fM", value / 1_000_000) }
        if value >= 10_000 { return String(format: "%.0fk", value / 1000) }
        if value >= 10 { return String(format: "%.0f", value) }
        return String(format: "%.2g", value)
    }

    static func duration(_ seconds: Double) -> String {
        seconds < 120 ? "\(Int(seconds)) s" : seconds < 7200 ? "\(Int(seconds / 60)) min" : String(format: "%.1f h", seconds / 3600)
    }
}
