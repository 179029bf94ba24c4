import CoreMetrics
import Prometheus

/// swift-metrics into the Prometheus registry with a HELP line for every metric: the registry's
/// own factory registers each with empty help, which `promtool check metrics` rejects.
public struct DescribedMetricsFactory: MetricsFactory {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    /// What each of syncd's metrics means; the volume-unit families share one text per shape.
    public static func help(for name: String) -> String {
        if let text = catalog[name] { return text }
        for unit in ["bytes", "records", "keys", "objects"] {
            if name == "syncd_lag_\(unit)" { return "How far the DR side is behind the primary, in \(unit) (NaN when unknown)" }
            if name == "syncd_throughput_\(unit)_per_second" { return "Rate the primary's position advanced between the last two polls, in \(unit) per second" }
        }
        return "syncd metric \(name)"
    }

    static let catalog: [String: String] = [
        "syncd_lag_seconds": "How far the DR side is behind the primary, in seconds (NaN when unknown)",
        "syncd_source_state": "1 for the state the source is in now (streaming, paused, unreachable, ...), 0 for the others",
        "syncd_gate_decisions_total": "Gate evaluations asked for by callers, by source and result",
        "syncd_gate_pass": "1 when the gate would pass this source now (lag, freshness, latest check), 0 when it would fail",
        "syncd_check_ratio": "Consistency ratio of the source's latest check: 1 - differing units / primary units (NaN before any check or after a failed one)",
        "syncd_check_age_seconds": "Seconds since the source's latest consistency check finished (NaN before any check)",
        "syncd_check_duration_seconds": "How long the source's latest consistency check ran, in seconds (NaN before any check)",
        "syncd_lag_budget_seconds": "The source's lag_budget: the gate fails while syncd_lag_seconds is above it",
        "syncd_check_max_age_seconds": "The source's check_max_age: the gate fails once syncd_check_age_seconds is above it",
        "syncd_leader": "1 while this instance holds the leader lease of a shared journal (it alone does leader-only writes), else 0",
        "syncd_journal_chain_ok": "1 when the journal's hash chain verified at start, 0 when an entry was edited, inserted or removed",
    ]

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(name: label, labels: dimensions, help: Self.help(for: label))
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(name: label, labels: dimensions, help: Self.help(for: label))
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(name: label, labels: dimensions, help: Self.help(for: label)) }
        return registry.makeValueHistogram(name: label, labels: dimensions, buckets: [0.001, 0.01, 0.1, 1, 10, 100, 1000],
                                           help: Self.help(for: label))
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(name: label, labels: dimensions, help: Self.help(for: label))
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(name: label, labels: dimensions,
                                       buckets: [.milliseconds(10), .milliseconds(100), .seconds(1), .seconds(10), .seconds(60)],
                                       help: Self.help(for: label))
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? Histogram<Double> { registry.unregisterValueHistogram(histogram) }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? Histogram<Duration> { registry.unregisterDurationHistogram(histogram) }
    }
}
