import Foundation
import Testing

/// SIGTERM with every server hung: the Kafka clusters, the S3 servers and the PostgreSQL standby
/// SIGSTOPped (a dead site answers nothing), a check running against the frozen standby and a
/// client long-polling it. syncd must exit within 5 s, answer the long poll at once, journal the
/// check as cancelled and its own stop.
extension BinaryTests {
    var integration: String { Self.repository.appendingPathComponent("integration").path }

    @Test("SIGTERM with the Kafka clusters, the S3 servers and the PostgreSQL standby hung: syncd exits within 5 s, the long poll is answered, the check is journaled cancelled")
    func shutdownIsQuickWhateverIsUnreachable() async throws {
        let name = "shutdown-\(UUID().uuidString.prefix(8).lowercased())"
        for side in ["primary", "dr"] {
            #expect(try await shell("bash \(integration)/kafka.sh create \(side) \(name) 2").status == 0)
        }
        #expect(try await shell("bash \(integration)/s3.sh bucket primary \(name)").status == 0)
        #expect(try await shell("bash \(integration)/s3.sh bucket dr \(name)-dr").status == 0)
        let bootstrap = { (side: String) in
            try String(contentsOfFile: "/var/tmp/syncd-kafka/\(side).bootstrap", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let primaryKafka = try environment["SYNCD_KAFKA_PRIMARY"] ?? bootstrap("primary")
        let drKafka = try environment["SYNCD_KAFKA_DR"] ?? bootstrap("dr")
        let produce = try await shell("seq 1 3000 | sed 's/.*/k&:v&/' | kcat -b \(primaryKafka) -P -t \(name) -K:")
        #expect(produce.status == 0, "\(produce.stderr)")
        let s3 = { (url: String, bucket: String) in
            "{url: \(url), bucket: \(bucket), access_key: {env: SYNCD_S3_ACCESS}, secret_key: {env: SYNCD_S3_SECRET}}"
        }
        let pg = { (port: String) in "{host: 127.0.0.1, port: \(port), user: syncd, database: appdb, password: {file: pg.password}}" }
        try """
        \(listen)
        tokens: {read: {file: read.token}, admin: {file: admin.token}}
        journal: shutdown-journal.sqlite
        sources:
          - name: pg
            kind: postgres
            primary: \(pg(environment["SYNCD_PG_PRIMARY_PORT"] ?? "25432"))
            dr: \(pg(environment["SYNCD_PG_STANDBY_PORT"] ?? "25433"))
          - name: events
            kind: kafka
            mode: mirror
            topics: [\(name)]
            primary: {bootstrap: "\(primaryKafka)"}
            dr: {bootstrap: "\(drKafka)"}
          - name: media
            kind: s3
            mode: managed
            primary: \(s3(environment["SYNCD_S3_PRIMARY"] ?? "http://127.0.0.1:28333", name))
            dr: \(s3(environment["SYNCD_S3_DR"] ?? "http://127.0.0.1:28433", "\(name)-dr"))
        """.write(to: directory.appendingPathComponent("syncd.yaml"), atomically: true, encoding: .utf8)

        let pid = try await startSyncd()
        let drained = try await syncctl("drain --source events --timeout 30s", token: "admin")
        #expect(drained.status == 0, "the mirror copies before the freeze: \(drained.stdout) \(drained.stderr)")

        let frozen = [("kafka.sh", "primary"), ("kafka.sh", "dr"), ("s3.sh", "primary"), ("s3.sh", "dr"), ("pg.sh", "standby")]
        for (script, side) in frozen { _ = try await shell("bash \(integration)/\(script) freeze \(side)") }
        var exitCode: Int32 = -1
        var seconds = 99.0
        var longPoll = ""
        do {
            let started = try await shell("curl -sf --cacert \(certs)/ca.pem -X POST -H 'Authorization: Bearer admin-token-\(port)-0123456789' https://127.0.0.1:\(port)/v1/sources/pg/check")
            let job = try JSONSerialization.jsonObject(with: Data(started.stdout.utf8)) as? [String: Any]
            let id = try #require(job?["id"] as? String, "\(started.stdout) \(started.stderr)")
            let pollOutput = directory.appendingPathComponent("longpoll.txt").path
            _ = try await shell("(curl -s --cacert \(certs)/ca.pem -H 'Authorization: Bearer read-token-\(port)-0123456789' 'https://127.0.0.1:\(port)/v1/checks/\(id)?wait=60s' -w '\\nseconds %{time_total}\\n' > \(pollOutput) 2>&1 &)")
            try await Task.sleep(for: .seconds(1))
            let clock = ContinuousClock()
            let signalled = clock.now
            exitCode = try await stopSyncd(pid)
            seconds = Double(signalled.duration(to: clock.now).components.attoseconds) / 1e18 + Double(signalled.duration(to: clock.now).components.seconds)
            try await Task.sleep(for: .milliseconds(300))
            longPoll = (try? String(contentsOfFile: pollOutput, encoding: .utf8)) ?? ""
        } catch {
            for (script, side) in frozen { _ = try? await shell("bash \(integration)/\(script) thaw \(side)") }
            throw error
        }
        for (script, side) in frozen { _ = try await shell("bash \(integration)/\(script) thaw \(side)") }

        #expect(exitCode == 0)
        #expect(seconds < 5, "syncd took \(seconds) s to stop")
        #expect(longPoll.contains("\"status\""), "the long poll got its answer: \(longPoll)")
        let pollSeconds = longPoll.split(separator: "\n").last { $0.hasPrefix("seconds ") }.flatMap { Double($0.dropFirst(8)) } ?? 99
        #expect(pollSeconds < 3, "answered at shutdown, not at its 60 s wait: \(longPoll)")
        let journal = try await shell("python3 -c \"import sqlite3; c = sqlite3.connect('\(directory.path)/shutdown-journal.sqlite'); print([r for r in c.execute('SELECT kind, action, outcome FROM journal ORDER BY id')])\"")
        #expect(journal.stdout.contains("('check', 'verify', 'cancelled')"), "\(journal.stdout)")
        #expect(journal.stdout.contains("('service', 'stop', 'ok')"), "\(journal.stdout)")
    }
}
