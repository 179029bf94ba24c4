import Foundation
import Testing

/// The OpenAPI document kept true: schemathesis fuzzes a running syncd of its own (throwaway
/// sources: an independent Redis pair on a database nothing else uses, and a PostgreSQL pair that
/// is not there) with the read and the admin token. Every answer must have a status the document
/// lists, its content type and its schema; and never 500 (integration/schemathesis_hooks.py).
extension BinaryTests {
    @Test("GET /openapi.yaml needs no token; schemathesis finds no answer the document does not describe, with either token")
    func openAPIDocumentMatchesTheAPI() async throws {
        let password = environment["SYNCD_REDIS_PASSWORD"] ?? "syncd-demo-password"
        setenv("SYNCD_REDIS_PASSWORD", password, 1)
        let redis = { (port: String) in "{host: 127.0.0.1, port: \(port), user: syncd, password: {env: SYNCD_REDIS_PASSWORD}}" }
        try """
        \(listen)
        tokens: {read: {file: read.token}, admin: {file: admin.token}}
        journal: openapi-journal.sqlite
        sources:
          - name: throwaway-redis
            kind: redis
            mode: independent
            databases: [13]
            primary: \(redis(environment["SYNCD_REDIS_PRIMARY_PORT"] ?? "26379"))
            dr: \(redis(environment["SYNCD_REDIS_INDEPENDENT_PORT"] ?? "26381"))
          - name: throwaway-down
            kind: postgres
            primary: {host: 127.0.0.1, port: 1, user: nobody, database: none, connect_timeout: 1s}
            dr: {host: 127.0.0.1, port: 2, user: nobody, database: none, connect_timeout: 1s}
        """.write(to: directory.appendingPathComponent("syncd.yaml"), atomically: true, encoding: .utf8)
        let pid = try await startSyncd()
        defer { kill(pid, SIGKILL) }

        let document = try await shell("curl -s --cacert \(certs)/ca.pem -w '\\n%{http_code} %{content_type}' https://127.0.0.1:\(port)/openapi.yaml")
        #expect(document.stdout.hasPrefix("openapi: 3.1.0"), "\(document.stdout.prefix(200))")
        #expect(document.stdout.hasSuffix("200 application/yaml; charset=utf-8"), "\(document.stdout.suffix(80))")

        let checks = "status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,no_internal_error"
        for role in ["admin", "read"] {
            let run = try await shell("cd \(integration) && SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=\(integration) timeout 120 /opt/syncd-venv/bin/st run "
                + "https://127.0.0.1:\(port)/openapi.yaml --tls-verify \(certs)/ca.pem -H 'Authorization: Bearer \(role)-token-\(port)-0123456789' "
                + "-c \(checks) --phases examples,coverage,fuzzing -n 8 --max-time 40 --request-timeout 20 --no-color")
            #expect(run.status == 0, "schemathesis with the \(role) token:\n\(run.stdout.suffix(6000))\n\(run.stderr.suffix(2000))")
            #expect(run.stdout.contains("passed"), "\(run.stdout.suffix(1500))")
        }
    }
}
