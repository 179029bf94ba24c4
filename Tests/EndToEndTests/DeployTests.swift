import Foundation
import Testing

/// The files under deploy/ as an operator installs them: the alert rules pass Prometheus's own
/// checks and unit tests, the systemd unit's hardening rates OK or better, and every metric the
/// rules and the dashboard query is one a running syncd really serves.
extension BinaryTests {
    var deploy: String { Self.repository.appendingPathComponent("deploy").path }

    @Test("promtool check rules and promtool test rules pass on deploy/prometheus")
    func alertRulesPassPromtool() async throws {
        let check = try await shell("promtool check rules \(deploy)/prometheus/syncd-alerts.yaml")
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
        #expect(check.stdout.contains("SUCCESS: 6 rules found"), "\(check.stdout)")
        let unit = try await shell("cd \(deploy)/prometheus && promtool test rules syncd-alerts.test.yaml")
        #expect(unit.status == 0, "\(unit.stdout) \(unit.stderr)")
    }

    @Test("systemd-analyze security rates deploy/syncd.service OK or better; it checks the config before starting and reloads with SIGHUP")
    func systemdUnitIsHardened() async throws {
        let run = try await shell("systemd-analyze security --offline=true \(deploy)/syncd.service")
        let verdict = try #require(run.stdout.split(separator: "\n").last { $0.contains("Overall exposure level") }, "\(run.stdout) \(run.stderr)")
        let words = verdict.split(separator: " ")
        let level = try #require(words.firstIndex { Double($0) != nil }.map { (Double(words[$0]) ?? 99, String(words[$0 + 1])) })
        #expect(level.0 < 5 && ["SAFE", "OK"].contains(level.1), "\(verdict)")
        let unit = try String(contentsOfFile: "\(deploy)/syncd.service", encoding: .utf8)
        #expect(unit.contains("ExecStartPre=/usr/local/bin/syncd --config /etc/syncd/syncd.yaml --check-config"))
        #expect(unit.contains("ExecReload=/bin/kill -HUP $MAINPID") && unit.contains("Restart=on-failure"))
        #expect(unit.contains("User=syncd") && !unit.contains("User=root"))
    }

    @Test("every syncd_* metric the alert rules and the Grafana dashboard query is served by /metrics")
    func dashboardAndRulesNameServedMetrics() async throws {
        try everyKindConfig().write(to: directory.appendingPathComponent("syncd.yaml"), atomically: true, encoding: .utf8)
        let pid = try await startSyncd()
        defer { kill(pid, SIGKILL) }
        let scrape = try await shell("curl -sf --cacert \(certs)/ca.pem -H 'Authorization: Bearer read-token-\(port)-0123456789' https://127.0.0.1:\(port)/metrics")
        #expect(scrape.status == 0)
        let served = Set(scrape.stdout.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.compactMap { $0.split(separator: " ").dropFirst(2).first.map(String.init) })
        #expect(served.contains("syncd_gate_pass") && served.contains("syncd_lag_records"), "\(served.sorted())")

        let dashboard = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(deploy)/grafana/syncd-dashboard.json"))) as? [String: Any]
        let panels = try #require(dashboard?["panels"] as? [[String: Any]])
        let queries = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(queries.count >= 12)
        let rules = try String(contentsOfFile: "\(deploy)/prometheus/syncd-alerts.yaml", encoding: .utf8)
            .split(separator: "\n").filter { $0.contains("expr:") }.map(String.init)
        #expect(rules.count == 6)
        let pattern = try Regex("syncd_[a-z_]+")
        var named = Set<String>()
        for expression in queries + rules {
            for match in expression.matches(of: pattern) { named.insert(String(expression[match.range])) }
        }
        #expect(named.count >= 12, "\(named.sorted())")
        #expect(named.subtracting(served).isEmpty, "queried but not served: \(named.subtracting(served).sorted())")
    }
}
