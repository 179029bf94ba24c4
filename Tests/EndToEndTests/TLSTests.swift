import Foundation
import Testing

/// The API under TLS as an operator deploys it: a private CA, mutual TLS, and the certificate
/// mistakes that must stop syncd before it listens.
extension BinaryTests {
    @Test("syncctl reaches a TLS syncd with --cacert or SYNCD_CACERT, and names the problem without it or over plain HTTP")
    func tlsWithAPrivateCA() async throws {
        let pid = try await startSyncd()
        defer { kill(pid, SIGKILL) }
        let status = try await syncctl("status --json")
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("pg-physical"))

        let token = "--token read-token-\(port)-0123456789"
        let fromEnvironment = try await shell("SYNCD_CACERT=\(certs)/ca.pem \(binaries.path)/syncctl status --server https://127.0.0.1:\(port) \(token)")
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")

        let noCA = try await shell("\(binaries.path)/syncctl status --server https://127.0.0.1:\(port) \(token)")
        #expect(noCA.status == 2)
        #expect(noCA.stderr.contains("certificate"), "\(noCA.stderr)")

        let wrongCA = try await shell("\(binaries.path)/syncctl status --server https://127.0.0.1:\(port) --cacert \(certs)/other-ca.pem \(token)")
        #expect(wrongCA.status == 2)
        #expect(wrongCA.stderr.contains("certificate"), "\(wrongCA.stderr)")

        let plain = try await shell("\(binaries.path)/syncctl status --server http://127.0.0.1:\(port) \(token)")
        #expect(plain.status == 2, "plain HTTP to the TLS port is not answered as if it were the API")

        let caForHTTP = try await shell("\(binaries.path)/syncctl status --server http://127.0.0.1:\(port) --cacert \(certs)/ca.pem \(token)")
        #expect(caForHTTP.status == 2)
        #expect(caForHTTP.stderr.contains("https://"), "\(caForHTTP.stderr)")

        // A request NIO cannot parse still gets the API's error shape (Hummingbird's own answer has no body).
        let malformed = try await shell("printf 'GET /v1/status HTTP/1.1\\r\\nHost: x\\r\\nNo colon here\\r\\n\\r\\n' | timeout 10 openssl s_client -quiet -CAfile \(certs)/ca.pem -connect 127.0.0.1:\(port)")
        #expect(malformed.stdout.hasPrefix("HTTP/1.1 400"), "\(malformed.stdout) \(malformed.stderr)")
        #expect(malformed.stdout.contains("\"code\" : \"bad_request\"") && malformed.stdout.contains("is not valid HTTP"), "\(malformed.stdout)")

        let missingCA = try await shell("\(binaries.path)/syncctl status --server https://127.0.0.1:\(port) --cacert \(certs)/nothing.pem \(token)")
        #expect(missingCA.status == 2)
        #expect(missingCA.stderr.contains("--cacert \(certs)/nothing.pem"), "\(missingCA.stderr)")
    }

    @Test("with client_ca, syncd lets in only clients whose certificate that CA signed")
    func mutualTLS() async throws {
        try config(port: "25433").replacingOccurrences(of: "key: \(certs)/server.key}", with: "key: \(certs)/server.key, client_ca: \(certs)/ca.pem}")
            .write(to: directory.appendingPathComponent("syncd.yaml"), atomically: true, encoding: .utf8)
        let client = "--cert \(certs)/client.pem --key \(certs)/client.key"
        let pid = try await startSyncd(clientFlags: client)
        defer { kill(pid, SIGKILL) }
        let with = try await syncctl("status", clientFlags: client)
        #expect(with.status == 0, "\(with.stderr)")
        let fromEnvironment = try await shell("SYNCD_CERT=\(certs)/client.pem SYNCD_KEY=\(certs)/client.key \(binaries.path)/syncctl status \(server) --token read-token-\(port)-0123456789")
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")

        let without = try await syncctl("status")
        #expect(without.status == 2)
        #expect(without.stderr.contains("cannot reach syncd"), "\(without.stderr)")
        let halfPair = try await syncctl("status", clientFlags: "--cert \(certs)/client.pem")
        #expect(halfPair.status == 2)
        #expect(halfPair.stderr.contains("both --cert and --key"), "\(halfPair.stderr)")
        let mismatched = try await syncctl("status", clientFlags: "--cert \(certs)/client.pem --key \(certs)/other.key")
        #expect(mismatched.status == 2)

        let metrics = try await shell("curl -s --cacert \(certs)/ca.pem -o /dev/null -w '%{http_code}' https://127.0.0.1:\(port)/metrics")
        #expect(metrics.stdout != "200", "no client certificate, no answer: \(metrics.stdout)")
    }

    @Test("a bad certificate, key or CA stops syncd (and --check-config) with exit 2 naming the file and the problem")
    func badCertificatesAreRefused() async throws {
        let base = config(port: "25433")
        let tlsLine = "tls: {cert: \(certs)/server.pem, key: \(certs)/server.key}"
        let cases: [(String, String, [String])] = [
            ("expired", "tls: {cert: \(certs)/expired.pem, key: \(certs)/expired.key}", ["expired.pem", "expired on 2020-02-01"]),
            ("wrong key", "tls: {cert: \(certs)/server.pem, key: \(certs)/other.key}", ["tls.key", "other.key", "certificate's key"]),
            ("not a certificate", "tls: {cert: \(directory.path)/read.token, key: \(certs)/server.key}", ["tls.cert", "read.token", "not a PEM certificate"]),
            ("not a key", "tls: {cert: \(certs)/server.pem, key: \(certs)/server.pem}", ["tls.key", "server.pem", "private key"]),
            ("not a CA", "tls: {cert: \(certs)/server.pem, key: \(certs)/server.key, client_ca: \(directory.path)/read.token}", ["tls.client_ca", "read.token"]),
            ("missing file", "tls: {cert: \(certs)/absent.pem, key: \(certs)/server.key}", ["tls.cert", "absent.pem", "No such file"]),
            ("a directory", "tls: {cert: \(certs), key: \(certs)/server.key}", ["tls.cert", "directory"]),
        ]
        for (name, line, words) in cases {
            try base.replacingOccurrences(of: tlsLine, with: line).write(to: directory.appendingPathComponent("tls.yaml"), atomically: true, encoding: .utf8)
            for extra in ["--check-config", ""] {
                let run = try await shell("timeout 20 \(binaries.path)/syncd --config \(directory.path)/tls.yaml \(extra)")
                #expect(run.status == 2, "\(name) \(extra): exit \(run.status)")
                for word in words {
                    #expect(run.stderr.contains(word), "\(name) \(extra): '\(word)' not in: \(run.stderr)")
                }
                #expect(run.stderr.contains("tls.yaml:"), "\(name): the config file and line are named: \(run.stderr)")
            }
        }
        let valid = try await shell("\(binaries.path)/syncd --config \(directory.path)/syncd.yaml --check-config")
        #expect(valid.status == 0, "\(valid.stderr)")
        #expect(valid.stdout.contains("https://127.0.0.1:\(port)"), "\(valid.stdout)")
    }
}
