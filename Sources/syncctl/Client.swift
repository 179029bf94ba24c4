import CurlClient
import Foundation
import SyncCore

/// A failure that is syncctl's or syncd's own (exit 2), not a failing gate (exit 1).
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

struct APIResponse {
    var status: Int
    var body: JSONValue
}

/// Talks to syncd's HTTP API (libcurl: it reads a private CA and client certificates as files).
struct APIClient {
    let server: URL
    let token: String
    let tls: TLSClientFiles?
    private let pool = CurlPool(size: 2)

    init(server: String, token: String?, tls: TLSClientFiles? = nil) throws {
        guard let url = URL(string: server), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw CLIError(message: "--server must be an http(s) URL such as https://syncd.example:8443, got '\(server)'")
        }
        guard let token, !token.isEmpty else {
            throw CLIError(message: "no API token: pass --token or set SYNCD_TOKEN")
        }
        if let tls {
            guard scheme == "https" else {
                throw CLIError(message: "--cacert/--cert/--key (or SYNCD_CACERT/SYNCD_CERT/SYNCD_KEY) are for an https:// server, but --server is \(server)")
            }
            guard (tls.certFile == nil) == (tls.keyFile == nil) else {
                throw CLIError(message: "a client certificate needs both --cert and --key (or SYNCD_CERT and SYNCD_KEY)")
            }
            for (flag, path) in [("--cacert", tls.caFile), ("--cert", tls.certFile), ("--key", tls.keyFile)] {
                guard let path else { continue }
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                      FileManager.default.isReadableFile(atPath: path) else {
                    throw CLIError(message: "\(flag) \(path): not a readable file")
                }
            }
        }
        self.server = url
        self.token = token
        self.tls = tls
    }

    func request(_ method: String, _ path: String, query: [String: String] = [:], body: Data? = nil, timeout: Double = 30) async throws -> APIResponse {
        guard var components = URLComponents(url: server.appendingPathComponent(path), resolvingAgainstBaseURL: false) else {
            throw CLIError(message: "cannot build a URL for \(path)")
        }
        if !query.isEmpty { components.queryItems = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) } }
        guard let url = components.url else { throw CLIError(message: "cannot build a URL for \(path)") }
        var headers = ["Authorization: Bearer \(token)", "X-Syncd-Actor: \(actorName())"]
        if body != nil { headers.append("Content-Type: application/json") }
        let request = HTTPRequest(method: method, url: url.absoluteString, headers: headers, body: body.map { .bytes([UInt8]($0)) },
                                  tls: tls, connectTimeoutSeconds: 10, timeoutSeconds: max(1, Int(timeout.rounded(.up))))
        let response: HTTPResponse
        do {
            response = try await pool.perform(request)
        } catch let error as HTTPError {
            throw CLIError(message: "cannot reach syncd at \(server.absoluteString): \(error.message)")
        }
        let data = Data(response.body)
        let decoded = (try? JSONCoding.decoder.decode(JSONValue.self, from: data)) ?? .string(String(decoding: data, as: UTF8.self))
        return APIResponse(status: response.status, body: decoded)
    }

    private func actorName() -> String {
        let user = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "unknown"
        // A header value: no line breaks whatever the environment holds.
        return "syncctl \(user)@\(ProcessInfo.processInfo.hostName)".filter { $0 != "\r" && $0 != "\n" }
    }
}

extension APIResponse {
    /// The API's error message, for non-2xx answers.
    var errorMessage: String {
        if case let .string(message)? = body["error"] { return message }
        if case let .string(text) = body { return text }
        return "HTTP \(status)"
    }
}
