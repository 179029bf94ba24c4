import Foundation
import Testing
import SyncCore

extension BinaryTests {
    /// One source of each kind, on the servers of integration/: PostgreSQL's physical standby, the
    /// Redis replica, a fresh Kafka topic on both mock clusters, and a fresh prefix of the bucket
    /// SeaweedFS's filer.sync replicates.
    func everyKindConfig() throws -> String {
        let pgHost = environment["SYNCD_PG_HOST"] ?? "127.0.0.1"
        func pg(_ port: String) -> String { "{host: \(pgHost), port: \(port), user: syncd, database: appdb, password: {file: pg.password}}" }
        func redis(_ name: String, _ fallback: String) -> String {
            "{host: 127.0.0.1, port: \(environment["SYNCD_REDIS_\(name)_PORT"] ?? fallback), user: syncd, password: {env: SYNCD_REDIS_PASSWORD}}"
        }
        func kafka(_ side: String) throws -> String {
            if let value = environment["SYNCD_KAFKA_\(side.uppercased())"] { return value }
            return try String(contentsOfFile: "/var/tmp/syncd-kafka/\(side).bootstrap", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func s3(_ url: String) -> String {
            "{url: \(url), bucket: \(environment["SYNCD_S3_SYNC_BUCKET"] ?? "replicated"), access_key: {env: SYNCD_S3_ACCESS}, secret_key: {env: SYNCD_S3_SECRET}}"
        }
        let topic = "cutover-\(UUID().uuidString.prefix(8).lowercased())"
        return """
        \(listen)
        tokens: {read: {file: read.token}, admin: {file: admin.token}}
        journal: cutover-journal.sqlite
        sources:
          - name: pg
            kind: postgres
            primary: \(pg(environment["SYNCD_PG_PRIMARY_PORT"] ?? "25432"))
            dr: \(pg(environment["SYNCD_PG_STANDBY_PORT"] ?? "25433"))
          - name: cache
            kind: redis
            mode: replica
            primary: \(redis("PRIMARY", "26379"))
            dr: \(redis("REPLICA", "26380"))
          - name: events
            kind: kafka
            mode: mirrormaker2
            replication_policy: identity
            topics: [\(topic)]
            primary: {bootstrap: "\(try kafka("primary"))"}
            dr: {bootstrap: "\(try kafka("dr"))"}
          - name: media
            kind: s3
            mode: native
            prefix: \(topic)/
            primary: \(s3(environment["SYNCD_S3_PRIMARY"] ?? "http://127.0.0.1:28333"))
            dr: \(s3(environment["SYNCD_S3_DR"] ?? "http://127.0.0.1:28433"))
        """ + "\n# topic \(topic)\n"
    }

    var serverEnvironment: String {
        [("SYNCD_REDIS_PASSWORD", "syncd-demo-password"), ("SYNCD_S3_ACCESS", "syncd-access"), ("SYNCD_S3_SECRET", "syncd-demo-secret")]
            .map { "\($0.0)=\(environment[$0.0] ?? $0.1)" }.joined(separator: " ")
    }

    @Test("a cutover over every kind passes, its report verifies against the journal and an edited copy does not; a drill with the standby paused fails fast on it")
    func cutoverOverEveryKind() async throws {
        let yaml = try everyKindConfig()
        try yaml.write(to: directory.appendingPathComponent("cutover.yaml"), atomically: true, encoding: .utf8)
        let topic = String(yaml.split(separator: "\n").last?.dropFirst("# topic ".count) ?? "")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("integration/kafka.sh").path
        for side in ["primary", "dr"] {
            #expect(try await shell("bash \(script) create \(side) \(topic) 2").status == 0)
        }
        let ctl = "\(serverEnvironment) \(binaries.path)/syncctl"
        let config = "--config \(directory.path)/cutover.yaml"
        let report = directory.appendingPathComponent("cutover.md").path

        let run = try await shell("\(ctl) cutover \(config) --report \(report) --json --timeout 5m")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let body = try JSONCoding.decoder.decode(JSONValue.self, from: Data(run.stdout.utf8))
        #expect(body["status"] == .string("pass"), "\(run.stdout)")
        guard case let .array(sources)? = body["sources"] else { Issue.record("no sources in \(run.stdout)"); return }
        #expect(sources.count == 4)
        for source in sources {
            #expect(source["status"] == .string("pass"), "\(source)")
            guard case let .array(phases)? = source["phases"] else { continue }
            #expect(phases.compactMap { if case let .string(name)? = $0["phase"] { name } else { nil } } == ["exposure", "drain", "verify", "gate"])
        }

        let verified = try await shell("\(ctl) cutover verify-report \(config) \(report)")
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        var markdown = try String(contentsOfFile: report, encoding: .utf8)
        markdown = markdown.replacingOccurrences(of: "\"status\" : \"pass\"", with: "\"status\" : \"fail\"")
        try markdown.write(toFile: report + ".edited.md", atomically: true, encoding: .utf8)
        let tampered = try await shell("\(ctl) cutover verify-report \(config) \(report).edited.md")
        #expect(tampered.status == 1, "\(tampered.stdout) \(tampered.stderr)")
        #expect(tampered.stdout.contains("NOT the report journaled"), "\(tampered.stdout)")

        #expect(try await shell("\(ctl) pause \(config) --source pg").status == 0)
        let started = ContinuousClock.now
        let drillReport = directory.appendingPathComponent("drill.md").path
        let drill = try await shell("\(ctl) cutover \(config) --drill --report \(drillReport)")
        let took = started.duration(to: .now)
        #expect(try await shell("\(ctl) resume \(config) --source pg").status == 0)
        #expect(drill.status == 1, "\(drill.stdout) \(drill.stderr)")
        #expect(drill.stdout.contains("pg: fail: drain: cannot drain: WAL replay on the DR standby is paused"), "\(drill.stdout)")
        #expect(drill.stdout.contains("drill"), "\(drill.stdout)")
        #expect(took < .seconds(60), "the paused source fails fast: \(took)")

        try await expectValidReports([report, drillReport])

        let badPlan = directory.appendingPathComponent("bad-plan.yaml").path
        try "stages:\n  - sources:\n      - source: pg\n        command: rm -rf /\n".write(toFile: badPlan, atomically: true, encoding: .utf8)
        let refused = try await shell("\(ctl) cutover \(config) --plan \(badPlan)")
        #expect(refused.status == 2 && refused.stderr.contains("bad-plan.yaml:4: stages[0].sources[0].command: unknown key 'command'"), "\(refused.stderr)")
        let unknown = try await shell("\(ctl) cutover \(config) --sources pg,nope")
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown source 'nope'"), "\(unknown.stderr)")
    }
}
