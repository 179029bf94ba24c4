import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import SQLiteJournal
import Testing
@testable import SyncAPI
@testable import SyncCore
@testable import SyncManager
import TestSupport

struct Harness {
    static let read = "read-token-value"
    static let admin = "admin-token-value"
    let manager: SyncManager
    let adapter: ScriptedAdapter
    let registry: PrometheusCollectorRegistry
    let journalPath: String

    init(journalPath: String? = nil) throws {
        let path = journalPath ?? FileManager.default.temporaryDirectory.appendingPathComponent("syncd-api-\(UUID().uuidString)/journal.sqlite").path
        self.journalPath = path
        adapter = ScriptedAdapter(name: "pg")
        let endpoint = EndpointConfig(host: "127.0.0.1", port: 1)
        let config = SourceConfig(name: "pg", kind: ScriptedAdapter.scriptedKind, primary: endpoint, dr: endpoint, pollIntervalSeconds: 1, pollTimeoutSeconds: 5,
                                  policy: GatePolicy(lagBudgetSeconds: 30, checkMaxAgeSeconds: 900, ratioThreshold: 0.99999, sampleMaxAgeSeconds: 10))
        registry = PrometheusCollectorRegistry()
        manager = SyncManager(sources: [(config, adapter)], journal: try SQLiteJournal(path: path), historySize: 100,
                              metricsFactory: DescribedMetricsFactory(registry: registry), logger: Logger(label: "test"))
    }

    func app() -> some ApplicationProtocol {
        Application(router: SyncAPI.router(manager: manager, readToken: Secret(Harness.read), adminToken: Secret(Harness.admin), registry: registry))
    }

    static func auth(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

    func metricsText() async throws -> String {
        try await app().test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get, headers: Harness.auth(Harness.read)) { response in
                String(buffer: response.body)
            }
        }
    }
}

func json(_ response: TestResponse) throws -> JSONValue {
    try JSONCoding.decoder.decode(JSONValue.self, from: Data(buffer: response.body))
}

@Suite struct APITests {
    @Test func healthzNeedsNoToken() async throws {
        try await Harness().app().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func missingOrWrongTokenIs401() async throws {
        try await Harness().app().test(.router) { client in
            for uri in ["/v1/status", "/v1/gate", "/metrics", "/v1/journal"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .unauthorized, "\(uri)")
                    #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="syncd""#)
                    let decoded = try json(response)
                    #expect(decoded["error"] == .string("missing bearer token: send 'Authorization: Bearer <token>'"))
                }
            }
            try await client.execute(uri: "/v1/status", method: .get, headers: Harness.auth("guess")) { response in
                #expect(response.status == .unauthorized)
                let decoded = try json(response)
                #expect(decoded["error"] == .string("invalid bearer token"))
            }
            try await client.execute(uri: "/v1/status", method: .get, headers: [.authorization: "Basic abc"]) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func readTokenOnAdminRouteIs403AndChangesNothing() async throws {
        let harness = try Harness()
        try await harness.app().test(.router) { client in
            for action in ["pause", "resume", "drain"] {
                try await client.execute(uri: "/v1/sources/pg/\(action)", method: .post, headers: Harness.auth(Harness.read)) { response in
                    #expect(response.status == .forbidden)
                    let decoded = try json(response)
                    #expect(decoded["error"] == .string("this operation needs the admin token; the read token may only read"))
                }
            }
        }
        #expect(await harness.adapter.pauses == 0)
    }

    @Test func adminControlIsExecutedAndJournaledWithTheActor() async throws {
        let harness = try Harness()
        try await harness.app().test(.router) { client in
            var headers = Harness.auth(Harness.admin)
            headers[HTTPFields.Element.Name("X-Syncd-Actor")!] = "alice@laptop"
            try await client.execute(uri: "/v1/sources/pg/pause", method: .post, headers: headers) { response in
                #expect(response.status == .ok)
                let body = try json(response)
                #expect(body["status"] == .string("ok"))
                #expect(body["state"] == .string("paused"))
            }
            // Draining while paused is refused with 409 and says why.
            try await client.execute(uri: "/v1/sources/pg/drain?timeout=5s", method: .post, headers: Harness.auth(Harness.admin)) { response in
                #expect(response.status == .conflict)
                let decoded = try json(response)
                #expect(decoded["error"] == .string("cannot drain: paused"))
            }
        }
        #expect(await harness.adapter.pauses == 1)
        let entries = try await harness.manager.journal.recent(limit: 10, kind: "control")
        // Each action journals its start, then its end under the same operation id.
        #expect(entries.map(\.action) == ["drain", "drain", "pause", "pause"])
        #expect(entries.map(\.outcome) == ["error", "started", "ok", "started"])
        #expect(entries[2].actor == "admin-token (alice@laptop)" && entries[3].actor == entries[2].actor)
        #expect(entries[2].source == "pg")
        #expect(entries[2].detail?["operation"] != nil && entries[2].detail?["operation"] == entries[3].detail?["operation"])
    }

    @Test("DELETE /v1/checks/{id} cancels a running check (admin only); the job ends cancelled and a second cancel is 409")
    func cancelACheck() async throws {
        let harness = try Harness()
        await harness.adapter.set(checkScopes: [TableCheckResult(table: "t", status: .equal, primaryRows: 1, drRows: 1)], duration: .seconds(30))
        try await harness.app().test(.router) { client in
            let id = try await client.execute(uri: "/v1/sources/pg/check", method: .post, headers: Harness.auth(Harness.admin)) { response in
                #expect(response.status == .accepted)
                return try json(response)["id"]
            }
            guard case let .string(job)? = id else { Issue.record("no job id"); return }
            try await client.execute(uri: "/v1/checks/\(job)", method: .delete, headers: Harness.auth(Harness.read)) { response in
                #expect(response.status == .forbidden)
            }
            let started = ContinuousClock.now
            try await client.execute(uri: "/v1/checks/\(job)", method: .delete, headers: Harness.auth(Harness.admin)) { response in
                #expect(response.status == .ok)
                let body = try json(response)
                #expect(body["status"] == .string("cancelled"))
            }
            #expect(started.duration(to: .now) < .seconds(5), "the 30 s check ended when cancelled")
            try await client.execute(uri: "/v1/checks/\(job)", method: .delete, headers: Harness.auth(Harness.admin)) { response in
                #expect(response.status == .conflict)
            }
            try await client.execute(uri: "/v1/checks/nope", method: .delete, headers: Harness.auth(Harness.admin)) { response in
                #expect(response.status == .notFound)
            }
            // The source is free again: a new check can start.
            await harness.adapter.set(checkScopes: [TableCheckResult(table: "t", status: .equal, primaryRows: 1, drRows: 1)])
            try await client.execute(uri: "/v1/sources/pg/check", method: .post, headers: Harness.auth(Harness.admin)) { response in
                #expect(response.status == .accepted)
            }
        }
    }

    @Test("every error answers one JSON shape: error, status, code, and remedy when there is one")
    func oneErrorShape() async throws {
        try await Harness().app().test(.router) { client in
            try await client.execute(uri: "/v1/sources/pg/reconcile", method: .post, headers: Harness.auth(Harness.admin)) { response in
                #expect(response.status == .conflict)
                let body = try json(response)
                #expect(body["status"] == .number(409) && body["code"] == .string("invalid_state"), "\(body)")
                guard case let .string(message)? = body["error"] else { Issue.record("no message in \(body)"); return }
                #expect(message.contains("no consistency check has run"))
            }
            try await client.execute(uri: "/v1/sources/nope/pause", method: .post, headers: Harness.auth(Harness.admin)) { response in
                let body = try json(response)
                #expect(body["status"] == .number(404) && body["code"] == .string("unknown_source"), "\(body)")
                #expect(body["remedy"] == .string("use one of the configured names: pg"))
            }
            try await client.execute(uri: "/v1/gate?bogus=1", method: .get, headers: Harness.auth(Harness.read)) { response in
                let body = try json(response)
                #expect(body["status"] == .number(400) && body["code"] == .string("bad_request") && body["remedy"] == nil, "\(body)")
            }
            try await client.execute(uri: "/v1/status", method: .get) { response in
                let body = try json(response)
                #expect(body["status"] == .number(401) && body["code"] == .string("unauthorized"), "\(body)")
            }
        }
    }

    @Test("unknown routes and wrong methods answer the JSON error shape, not an empty body")
    func unknownRoutesAnswerTheErrorShape() async throws {
        try await Harness().app().test(.router) { client in
            let cases: [(String, HTTPRequest.Method)] = [("/v1/nothing-here", .get), ("/v1/gate", .post), ("/", .delete), ("/v2/gate", .get)]
            for (uri, method) in cases {
                try await client.execute(uri: uri, method: method, headers: Harness.auth(Harness.read)) { response in
                    #expect(response.status == .notFound, "\(method) \(uri)")
                    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, "\(method) \(uri)")
                    let body = try json(response)
                    #expect(body["status"] == .number(404) && body["code"] == .string("not_found"), "\(body)")
                    #expect(body["error"] == .string("no route \(method.rawValue) \(uri) (GET /openapi.yaml lists the routes)"), "\(body)")
                }
            }
        }
    }

    @Test("GET /v1/journal/verify answers the chain's verification (read token)")
    func journalVerify() async throws {
        let harness = try Harness()
        try await harness.app().test(.router) { client in
            _ = try await client.execute(uri: "/v1/gate", method: .get, headers: Harness.auth(Harness.read))
            try await client.execute(uri: "/v1/journal/verify", method: .get, headers: Harness.auth(Harness.read)) { response in
                #expect(response.status == .ok)
                let body = try json(response)
                #expect(body["ok"] == .bool(true) && body["entries"] == .number(1), "\(body)")
                guard case let .string(head)? = body["head_hash"] else { Issue.record("no head hash: \(body)"); return }
                #expect(head.count == 64)
            }
        }
    }

    @Test("HEAD is answered wherever GET is: the GET's status and headers, no body; the gate's 503 too")
    func headWhereverGet() async throws {
        try await Harness().app().test(.router) { client in
            for (uri, status) in [("/healthz", HTTPResponse.Status.ok), ("/v1/status", .ok), ("/v1/gate", .serviceUnavailable), ("/metrics", .ok)] {
                let headers = uri == "/healthz" ? [:] : Harness.auth(Harness.read)
                try await client.execute(uri: uri, method: .head, headers: headers) { response in
                    #expect(response.status == status, "HEAD \(uri)")
                    #expect(response.body.readableBytes == 0, "HEAD \(uri) has no body")
                }
            }
            try await client.execute(uri: "/v1/status", method: .head) { response in
                #expect(response.status == .unauthorized, "HEAD needs the token as GET does")
            }
        }
    }

    @Test("each role accepts every token it lists, and a replaced set takes effect at once (SIGHUP's rotation)")
    func rotatedTokensAreReplacedLive() async throws {
        let harness = try Harness()
        let tokens = AccessTokens(read: [Secret("old-read-token-0123456789"), Secret("new-read-token-0123456789")],
                                  admin: [Secret("old-admin-token-0123456789")])
        let app = Application(router: SyncAPI.router(manager: harness.manager, tokens: tokens, registry: harness.registry))
        try await app.test(.router) { client in
            for token in ["old-read-token-0123456789", "new-read-token-0123456789"] {
                try await client.execute(uri: "/v1/status", method: .get, headers: Harness.auth(token)) { #expect($0.status == .ok) }
            }
            try await client.execute(uri: "/v1/sources/pg/pause", method: .post, headers: Harness.auth("new-read-token-0123456789")) {
                #expect($0.status == .forbidden, "a read token stays a read token")
            }
            tokens.replace(read: [Secret("new-read-token-0123456789")], admin: [Secret("new-admin-token-0123456789")])
            try await client.execute(uri: "/v1/status", method: .get, headers: Harness.auth("old-read-token-0123456789")) {
                #expect($0.status == .unauthorized, "a rotated-out token is refused")
            }
            try await client.execute(uri: "/v1/status", method: .get, headers: Harness.auth("old-admin-token-0123456789")) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/status", method: .get, headers: Harness.auth("new-admin-token-0123456789")) { #expect($0.status == .ok) }
        }
    }

    @Test func unknownSourceIs404() async throws {
        try await Harness().app().test(.router) { client in
            let cases: [(String, HTTPRequest.Method)] = [
                ("/v1/sources/nope", .get), ("/v1/sources/nope/pause", .post), ("/v1/gate?sources=pg,nope", .get),
                ("/v1/gate/verdict?sources=nope", .get), ("/v1/journal?source=nope", .get),
            ]
            for (uri, method) in cases {
                try await client.execute(uri: uri, method: method, headers: Harness.auth(Harness.admin)) { response in
                    #expect(response.status == .notFound, "\(uri)")
                    guard case let .string(message)? = try json(response)["error"] else { Issue.record("no error message"); return }
                    #expect(message.contains("'nope'") && message.contains("configured: pg"), "\(message)")
                }
            }
        }
    }

    @Test func malformedQueryParametersAre400WithAMessage() async throws {
        try await Harness().app().test(.router) { client in
            let cases: [(String, HTTPRequest.Method, String)] = [
                ("/v1/gate?sources=", .get, "query parameter 'sources' must be a comma-separated list"),
                ("/v1/gate?sources=pg,,x", .get, "query parameter 'sources' must be a comma-separated list"),
                ("/v1/gate?source=pg", .get, "unknown query parameter 'source' (accepted: sources)"),
                ("/v1/gate/verdict?sources=pg&sources=pg", .get, "given more than once"),
                ("/v1/journal?limit=lots", .get, "query parameter 'limit' must be an integer"),
                ("/v1/journal?limit=0", .get, "query parameter 'limit' must be an integer"),
                ("/v1/sources/pg/drain?timeout=forever", .post, "query parameter 'timeout' must be a duration"),
                ("/v1/sources/pg/pause?force=1", .post, "unknown query parameter 'force' (none are accepted)"),
                ("/v1/sources/pg?history=-1", .get, "query parameter 'history' must be an integer"),
                ("/v1/journal?kind=bogus", .get, "query parameter 'kind' must be one of gate, check, reconcile, control, cutover, lag, service, got 'bogus'"),
            ]
            for (uri, method, message) in cases {
                try await client.execute(uri: uri, method: method, headers: Harness.auth(Harness.admin)) { response in
                    #expect(response.status == .badRequest, "\(uri)")
                    guard case let .string(text)? = try json(response)["error"] else { Issue.record("no error message for \(uri)"); return }
                    #expect(text.contains(message), "\(uri): \(text)")
                }
            }
        }
    }

    @Test func gateFailsClosedWith503AndVerdictAlways200() async throws {
        let harness = try Harness()
        try await harness.app().test(.router) { client in
            // No sample yet, no check: fail.
            try await client.execute(uri: "/v1/gate?sources=pg", method: .get, headers: Harness.auth(Harness.read)) { response in
                #expect(response.status == .serviceUnavailable)
                let body = try json(response)
                #expect(body["status"] == .string("fail"))
            }
            await harness.manager.monitors[0].poll()
            try await client.execute(uri: "/v1/gate/verdict?sources=pg", method: .get, headers: Harness.auth(Harness.read)) { response in
                #expect(response.status == .ok)
                let body = try json(response)
                #expect(body["status"] == .string("fail"))
                guard case let .array(sources)? = body["sources"] else { Issue.record("no sources"); return }
                #expect(sources[0]["reasons"] == .array([.string("no consistency check has run")]))
                #expect(sources[0]["state"] == .string("in_sync"))
            }
            // A fresh passing check and a healthy sample: pass on both shapes.
            await harness.manager.monitors[0].recordCheck(CheckSummary(finishedAt: Date(), ratio: 1, countRatio: 1))
            try await client.execute(uri: "/v1/gate", method: .get, headers: Harness.auth(Harness.read)) { response in
                #expect(response.status == .ok)
                let decoded = try json(response)
                #expect(decoded["status"] == .string("pass"))
            }
            // The DR side becomes unreachable: 503 with the reason spelled out.
            await harness.adapter.set(.unreachable)
            await harness.manager.monitors[0].poll()
            try await client.execute(uri: "/v1/gate", method: .get, headers: Harness.auth(Harness.read)) { response in
                #expect(response.status == .serviceUnavailable)
                guard case let .array(sources)? = try json(response)["sources"] else { Issue.record("no sources"); return }
                #expect(sources[0]["reasons"] == .array([.string("source is unreachable: DR 127.0.0.1:1 is unreachable: connection refused")]))
            }
        }
        let gates = try await harness.manager.journal.recent(limit: 10, kind: "gate")
        #expect(gates.map(\.outcome) == ["fail", "pass", "fail", "fail"])
        #expect(gates[0].actor == "read-token")
    }

    @Test func statusAndSourceShowSamplesAndHistory() async throws {
        let harness = try Harness()
        await harness.manager.monitors[0].poll()
        await harness.manager.monitors[0].poll()
        try await harness.app().test(.router) { client in
            try await client.execute(uri: "/v1/status", method: .get, headers: Harness.auth(Harness.read)) { response in
                #expect(response.status == .ok)
                guard case let .array(sources)? = try json(response)["sources"] else { Issue.record("no sources"); return }
                #expect(sources[0]["name"] == .string("pg"))
                #expect(sources[0]["latest"]?["lag_volume"] == .number(128))
                #expect(sources[0]["latest"]?["throughput"] == .number(0))
            }
            try await client.execute(uri: "/v1/sources/pg?history=5", method: .get, headers: Harness.auth(Harness.read)) { response in
                guard case let .array(history)? = try json(response)["history"] else { Issue.record("no history"); return }
                #expect(history.count == 2)
            }
        }
    }

    @Test func metricsExposeLagStateAndGateDecisions() async throws {
        let harness = try Harness()
        await harness.manager.monitors[0].poll()
        _ = try await harness.manager.evaluateGate(sources: nil, actor: "test")
        try await harness.app().test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get, headers: Harness.auth(Harness.read)) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains(#"syncd_lag_seconds{source="pg"} 0.5"#))
                #expect(text.contains(#"syncd_lag_bytes{source="pg"} 128"#))
                #expect(text.contains(#"syncd_source_state{source="pg",state="in_sync"} 1"#))
                #expect(text.contains(#"syncd_source_state{source="pg",state="paused"} 0"#))
                #expect(text.contains(#"syncd_gate_decisions_total{source="pg",result="fail"} 1"#))
            }
        }
    }

    @Test("every metric family has a HELP line; gate pass, check ratio, age and duration follow the latest check")
    func metricsDescribeThemselvesAndFollowTheLatestCheck() async throws {
        let harness = try Harness()
        await harness.manager.monitors[0].poll()
        func families(_ text: String) -> (typed: Set<String>, helped: Set<String>) {
            let lines = text.split(separator: "\n")
            func names(_ prefix: String) -> Set<String> {
                Set(lines.filter { $0.hasPrefix(prefix) }.compactMap { $0.dropFirst(prefix.count).split(separator: " ").first.map(String.init) })
            }
            return (names("# TYPE "), names("# HELP "))
        }
        let before = try await harness.metricsText()
        #expect(before.contains(#"syncd_check_ratio{source="pg"} nan"#), "no check yet: unknown, not 0")
        #expect(before.contains(#"syncd_check_age_seconds{source="pg"} nan"#))
        #expect(before.contains(#"syncd_gate_pass{source="pg"} 0"#), "no check: the gate fails")

        await harness.adapter.set(checkScopes: [TableCheckResult(table: "t", status: .equal, primaryRows: 3, drRows: 3)], duration: .milliseconds(50))
        _ = try await harness.manager.check(source: "pg", options: CheckOptions(), actor: "test")
        await harness.manager.monitors[0].poll()
        let after = try await harness.metricsText()
        #expect(after.contains(#"syncd_check_ratio{source="pg"} 1.0"#), "\(after)")
        #expect(after.contains(#"syncd_gate_pass{source="pg"} 1"#), "\(after)")
        #expect(after.contains(#"syncd_check_duration_seconds{source="pg"}"#) && !after.contains(#"syncd_check_duration_seconds{source="pg"} nan"#))
        let age = after.split(separator: "\n").first { $0.hasPrefix(#"syncd_check_age_seconds{source="pg"}"#) }
        let seconds = try #require(age.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) })
        #expect(seconds >= 0 && seconds < 60)
        let (typed, helped) = families(after)
        #expect(typed.count >= 8)
        #expect(typed == helped, "metrics without HELP: \(typed.subtracting(helped))")
        #expect(!after.contains("syncd metric "), "every metric has its own words: \(after)")
    }

    @Test("GET /openapi.yaml needs no token, and every operation it documents is routed")
    func openAPIDocumentIsServedAndRouted() async throws {
        var operations: [(HTTPRequest.Method, String)] = []
        var path: String?
        for line in OpenAPIDocument.yaml.split(separator: "\n") {
            if line.hasPrefix("  /"), line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()); continue }
            if !line.hasPrefix("  ") { path = nil }
            guard let current = path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") else { continue }
            let method = line.trimmingCharacters(in: .whitespaces).dropLast()
            let uri = current.replacingOccurrences(of: "{name}", with: "pg").replacingOccurrences(of: "{id}", with: "nope")
            switch method {
            case "get": operations.append((.get, uri))
            case "post": operations.append((.post, uri))
            case "delete": operations.append((.delete, uri))
            default: Issue.record("unexpected method \(method) under \(current)")
            }
        }
        #expect(operations.count == 23, "\(operations.map { "\($0.0) \($0.1)" })")
        let documented = operations
        try await Harness().app().test(.router) { client in
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/yaml; charset=utf-8")
                #expect(String(buffer: response.body).hasPrefix("openapi: 3.1.0"))
            }
            for (method, uri) in documented {
                try await client.execute(uri: uri, method: method, headers: Harness.auth(Harness.admin)) { response in
                    let body = String(buffer: response.body)
                    #expect(!body.contains("no route"), "\(method) \(uri) is documented but not routed: \(body)")
                }
            }
        }
    }

    @Test func journalSurvivesARestart() async throws {
        let first = try Harness()
        _ = try await first.manager.evaluateGate(sources: ["pg"], actor: "before-restart")
        _ = try await first.manager.control(.pause, source: "pg", actor: "before-restart")
        // A new manager and journal on the same file, as after a syncd restart.
        let second = try Harness(journalPath: first.journalPath)
        try await second.app().test(.router) { client in
            try await client.execute(uri: "/v1/journal?limit=10", method: .get, headers: Harness.auth(Harness.read)) { response in
                guard case let .array(entries)? = try json(response)["entries"] else { Issue.record("no entries"); return }
                // Newest first: the pause's end, the replication state it left, its start, the gate.
                #expect(entries.count == 4)
                #expect(entries.map { $0["actor"] } == Array(repeating: .string("before-restart"), count: 4))
                #expect(entries.map { $0["kind"] } == [.string("control"), .string("replication"), .string("control"), .string("gate")])
                #expect(entries.map { $0["action"] } == [.string("pause"), .string("paused"), .string("pause"), .string("evaluate")])
                #expect(entries.map { $0["outcome"] } == [.string("ok"), .string("ok"), .string("started"), .string("fail")])
            }
        }
    }
}
