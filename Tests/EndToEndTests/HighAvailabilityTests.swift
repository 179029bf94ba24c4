import Foundation
import Testing

/// Two syncd instances sharing a journal on the separate PostgreSQL cluster: one leads, both
/// answer the gate, the follower refuses leader-only work naming the leader, a killed leader is
/// replaced within the lease, and with the journal database down every gate fails closed.
extension BinaryTests {
    @Test("two instances on a shared journal: one leader, admin calls to the follower forwarded to it, a kill -9 hands over within the lease, the journal database down fails every gate (503) until it returns")
    func twoInstancesShareAJournal() async throws {
        let database = "e2e_ha_\(port)"
        _ = try await journalSQL("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
        #expect(try await journalSQL("CREATE DATABASE \(database)").status == 0)
        defer { Task { _ = try? await journalSQL("DROP DATABASE IF EXISTS \(database) WITH (FORCE)") } }
        let otherPort = port + 1
        // The built-in mirror copies a fresh topic: leader-only work that must survive a hand-over.
        let topic = "ha-\(UUID().uuidString.prefix(8).lowercased())"
        for side in ["primary", "dr"] {
            #expect(try await shell("bash \(integration)/kafka.sh create \(side) \(topic) 2").status == 0)
        }
        let bootstrap = { (side: String) in
            try String(contentsOfFile: "/var/tmp/syncd-kafka/\(side).bootstrap", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let primaryKafka = try environment["SYNCD_KAFKA_PRIMARY"] ?? bootstrap("primary")
        let drKafka = try environment["SYNCD_KAFKA_DR"] ?? bootstrap("dr")
        // And the S3 managed copy of a fresh bucket pair.
        #expect(try await shell("bash \(integration)/s3.sh bucket primary \(topic)").status == 0)
        #expect(try await shell("bash \(integration)/s3.sh bucket dr \(topic)-dr").status == 0)
        let s3 = { (url: String, bucket: String) in
            "{url: \(url), bucket: \(bucket), access_key: {env: SYNCD_S3_ACCESS}, secret_key: {env: SYNCD_S3_SECRET}}"
        }
        func instanceConfig(_ id: String, _ site: String, _ apiPort: Int) -> String {
            (config(port: "25433") + """

              - name: events
                kind: kafka
                mode: mirror
                topics: [\(topic)]
                primary: {bootstrap: "\(primaryKafka)"}
                dr: {bootstrap: "\(drKafka)"}
              - name: media
                kind: s3
                mode: managed
                primary: \(s3(environment["SYNCD_S3_PRIMARY"] ?? "http://127.0.0.1:28333", topic))
                dr: \(s3(environment["SYNCD_S3_DR"] ?? "http://127.0.0.1:28433", "\(topic)-dr"))
            """)
                .replacingOccurrences(of: "journal: journal.sqlite", with: """
                    journal: {postgres: {host: 127.0.0.1, port: \(journalPort), user: syncd, password: {file: pg.password}, database: \(database), connect_timeout: 2s}}
                    instance: {id: \(id), site: \(site), url: "https://127.0.0.1:\(apiPort)", ca: \(certs)/ca.pem}
                    lease_ttl: 3s
                    """)
                .replacingOccurrences(of: "listen: 127.0.0.1:\(port)", with: "listen: 127.0.0.1:\(apiPort)")
        }
        try instanceConfig("east", "site-a", port).write(to: directory.appendingPathComponent("syncd.yaml"), atomically: true, encoding: .utf8)
        try instanceConfig("west", "site-b", otherPort).write(to: directory.appendingPathComponent("west.yaml"), atomically: true, encoding: .utf8)
        let east = try await startSyncd()
        defer { kill(east, SIGKILL) }
        try await Task.sleep(for: .seconds(2))
        let west = try await startSyncd(config: "west.yaml", apiPort: otherPort)
        defer { kill(west, SIGKILL) }
        let westServer = "--server https://127.0.0.1:\(otherPort) --cacert \(certs)/ca.pem"

        func cluster(_ server: String) async throws -> [String: Any] {
            let run = try await shell("\(binaries.path)/syncctl status --json \(server) --token read-token-\(port)-0123456789")
            let body = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
            return body?["cluster"] as? [String: Any] ?? [:]
        }
        #expect(try await waitFor(.seconds(20)) { try await cluster(server)["role"] as? String == "leader" }, "east started first and leads")
        #expect(try await waitFor(.seconds(20)) { (try await cluster(westServer)["instances"] as? [Any])?.count == 2 })
        let westView = try await cluster(westServer)
        #expect(westView["role"] as? String == "follower" && westView["leader"] as? String == "east", "\(westView)")
        let status = try await shell("\(binaries.path)/syncctl status \(westServer) --token read-token-\(port)-0123456789")
        #expect(status.stdout.contains("instance west is the follower; leader east") && status.stdout.contains("site-a"), "\(status.stdout)")

        // Admin calls sent to the follower are forwarded to the leader and journaled with the caller.
        let verify = try await shell("\(binaries.path)/syncctl verify --source pg-logical \(westServer) --token admin-token-\(port)-0123456789")
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let cutover = try await shell("\(binaries.path)/syncctl cutover --drill --sources pg-logical \(westServer) --token admin-token-\(port)-0123456789")
        #expect(cutover.status == 0, "\(cutover.stdout) \(cutover.stderr)")
        let actors = try await journalSQL("SELECT DISTINCT actor FROM journal WHERE kind IN ('check', 'cutover')", database: database)
        #expect(actors.stdout.contains("via west"), "\(actors.stdout)")
        // Both answer the gate from the shared journal.
        #expect(try await shell("\(binaries.path)/syncctl gate \(westServer) --token read-token-\(port)-0123456789").status == 1)

        // The leader is killed while its mirror copies: the new leader resumes from the DR side's end.
        let produce = try await shell("seq 1 60000 | sed 's/.*/k&:v&/' | kcat -b \(primaryKafka) -P -t \(topic) -K:")
        #expect(produce.status == 0, "\(produce.stderr)")
        let s3Put = "curl -fsS --aws-sigv4 aws:amz:us-east-1:s3 --user \(environment["SYNCD_S3_ACCESS"] ?? "syncd-access"):\(environment["SYNCD_S3_SECRET"] ?? "syncd-demo-secret") -o /dev/null"
        let put = try await shell("for n in $(seq 1 40); do head -c 20000 /dev/urandom | \(s3Put) -T - \(environment["SYNCD_S3_PRIMARY"] ?? "http://127.0.0.1:28333")/\(topic)/obj-$n || exit 1; done")
        #expect(put.status == 0, "\(put.stderr)")
        let killed = ContinuousClock.now
        kill(east, SIGKILL)
        #expect(try await waitFor(.seconds(15)) { try await cluster(westServer)["role"] as? String == "leader" })
        let handover = killed.duration(to: .now)
        #expect(handover < .seconds(3 + 3), "west leads within the lease (3 s) and a renewal period: \(handover)")
        let token = try await cluster(westServer)["fencing_token"] as? Int
        #expect((token ?? 0) >= 2, "a new term: \(String(describing: token))")
        let drained = try await shell("\(binaries.path)/syncctl drain --source events --timeout 60s \(westServer) --token admin-token-\(port)-0123456789")
        #expect(drained.status == 0, "\(drained.stdout) \(drained.stderr)")
        let mirrored = try await shell("\(binaries.path)/syncctl verify --source events --json \(westServer) --token admin-token-\(port)-0123456789")
        #expect(mirrored.status == 0 && mirrored.stdout.contains("\"missing\" : 0") && mirrored.stdout.contains("\"extra\" : 0")
                && mirrored.stdout.contains("\"changed\" : 0"), "no record lost or doubled over the hand-over: \(mirrored.stdout.prefix(1500)) \(mirrored.stderr)")
        // The managed copy resumes on the new leader from the DR bucket's own listing.
        let copied = try await shell("\(binaries.path)/syncctl drain --source media --timeout 60s \(westServer) --token admin-token-\(port)-0123456789")
        #expect(copied.status == 0, "\(copied.stdout) \(copied.stderr)")
        let objects = try await shell("\(binaries.path)/syncctl verify --source media --json \(westServer) --token admin-token-\(port)-0123456789")
        #expect(objects.status == 0 && objects.stdout.contains("\"primary_rows\" : 40"), "every object copied: \(objects.stdout.prefix(1500)) \(objects.stderr)")

        // A leader paused past its lease (SIGSTOP) loses it; woken, it starts no new write and
        // rejoins as a follower.
        let eastAgain = try await startSyncd()
        defer { kill(eastAgain, SIGKILL) }
        #expect(try await waitFor(.seconds(20)) { try await cluster(server)["role"] as? String == "follower" })
        kill(west, SIGSTOP)
        let eastLeads = try await waitFor(.seconds(20)) { try await cluster(server)["role"] as? String == "leader" }
        kill(west, SIGCONT)
        #expect(eastLeads, "east took over from the paused west")
        #expect(try await waitFor(.seconds(20)) {
            let view = try await cluster(westServer)
            return view["role"] as? String == "follower" && view["leader"] as? String == "east"
        }, "the woken west is a follower")
        let eastToken = try await cluster(server)["fencing_token"] as? Int ?? 0
        #expect(eastToken > (token ?? 0), "east's term is newer than the one west held")

        // The journal database down: the gate fails closed, then recovers without a restart.
        let script = environment["SYNCD_PG_SCRIPT"] ?? Self.repository.appendingPathComponent("integration/pg.sh").path
        #expect(try await shell("bash \(script) stop journal").status == 0)
        do {
            let closed = try await waitFor(.seconds(10)) {
                let gate = try await shell("curl -s -o /dev/null -w '%{http_code}' --cacert \(certs)/ca.pem -H 'Authorization: Bearer read-token-\(port)-0123456789' https://127.0.0.1:\(otherPort)/v1/gate/verdict")
                return gate.stdout == "503"
            }
            #expect(closed, "the gate answers 503 while the journal is unreachable")
            let body = try await shell("curl -s --cacert \(certs)/ca.pem -H 'Authorization: Bearer read-token-\(port)-0123456789' https://127.0.0.1:\(otherPort)/v1/gate")
            #expect(body.stdout.contains("journal_unavailable"), "\(body.stdout)")
        } catch {
            _ = try? await shell("bash \(script) start journal")
            throw error
        }
        #expect(try await shell("bash \(script) start journal").status == 0)
        #expect(try await waitFor(.seconds(20)) {
            let gate = try await shell("curl -s -o /dev/null -w '%{http_code}' --cacert \(certs)/ca.pem -H 'Authorization: Bearer read-token-\(port)-0123456789' https://127.0.0.1:\(otherPort)/v1/gate/verdict")
            return gate.stdout == "200"
        }, "the same syncd answers again once the journal is back")
    }

    /// Polls `condition` every 200 ms until it holds or `timeout` passes.
    func waitFor(_ timeout: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return try await condition()
    }
}
