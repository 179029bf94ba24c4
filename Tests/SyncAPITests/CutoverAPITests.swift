import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport
@testable import SyncAPI
@testable import SyncCore
@testable import SyncManager

@Suite struct CutoverAPITests {
    func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    @Test("POST /v1/cutovers starts a run (admin, 202, Location); GET follows it to its verdict; the digest is served")
    func startFollowAndDigest() async throws {
        let harness = try Harness()
        await harness.adapter.set(checkScopes: [TableCheckResult(table: "t", status: .equal, primaryRows: 10, drRows: 10)])
        try await harness.app().test(.router) { client in
            try await client.execute(uri: "/v1/cutovers", method: .post, headers: Harness.auth(Harness.read), body: body("{}")) { response in
                #expect(response.status == .forbidden)
            }
            var id = ""
            try await client.execute(uri: "/v1/cutovers", method: .post, headers: Harness.auth(Harness.admin),
                                     body: body(#"{"sources": ["pg"], "drill": true}"#)) { response in
                #expect(response.status == .accepted)
                let run = try json(response)
                if case let .string(value)? = run["id"] { id = value }
                #expect(response.headers[.location] == "/v1/cutovers/\(id)")
                #expect(run["drill"] == .bool(true))
            }
            try await client.execute(uri: "/v1/cutovers/\(id)?wait=30s", method: .get, headers: Harness.auth(Harness.read)) { response in
                let run = try json(response)
                #expect(run["status"] == .string("pass"), "\(run)")
                #expect(run["report_sha256"] != nil)
            }
            try await client.execute(uri: "/v1/cutovers/\(id)/digest", method: .get, headers: Harness.auth(Harness.read)) { response in
                #expect(response.status == .ok)
                let answer = try json(response)
                #expect(answer["id"] == .string(id))
            }
            try await client.execute(uri: "/v1/cutovers", method: .get, headers: Harness.auth(Harness.read)) { response in
                guard case let .array(runs)? = try json(response)["runs"] else { Issue.record("no runs"); return }
                #expect(runs.count == 1)
            }
        }
    }

    @Test("bad requests answer the one error shape: malformed body 400, unknown source 404, lowered threshold 400, unknown run 404")
    func badRequests() async throws {
        try await Harness().app().test(.router) { client in
            let cases: [(String, HTTPResponse.Status, String)] = [
                ("{not json", .badRequest, "bad_request"),
                (#"{"sources": ["nope"]}"#, .notFound, "unknown_source"),
                (#"{"plan": {"stages": [{"name": "s", "steps": [{"source": "pg", "ratio_threshold": 0.5}]}]}}"#, .badRequest, "invalid_cutover"),
                (#"{"plan": {"stages": [{"name": "s", "steps": [{"source": "pg", "rounds": 99}]}]}}"#, .badRequest, "bad_request"),
            ]
            for (text, status, code) in cases {
                try await client.execute(uri: "/v1/cutovers", method: .post, headers: Harness.auth(Harness.admin), body: body(text)) { response in
                    #expect(response.status == status, "\(text)")
                    let answer = try json(response)
                    #expect(answer["code"] == .string(code), "\(text)")
                }
            }
            try await client.execute(uri: "/v1/cutovers/nope", method: .get, headers: Harness.auth(Harness.read)) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/v1/cutovers/nope", method: .delete, headers: Harness.auth(Harness.admin)) { response in
                #expect(response.status == .notFound)
            }
        }
    }
}
