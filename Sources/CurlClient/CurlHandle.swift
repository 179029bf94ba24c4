import CCurl
import CCurlShim
import Foundation
import SyncCore

/// State the C callbacks reach through their userdata pointer, for one transfer.
final class TransferContext {
    var headers: [String: String] = [:]
    var body: [UInt8] = []
    var status = 0
    /// Streams the body of a 2xx response instead of collecting it; returning false aborts.
    var sink: ((UnsafeRawBufferPointer) -> Bool)?
    var sinkFailed = false
    var upload: RequestBody?
    var uploadFile: FileHandle?
    var uploadSent: Int64 = 0
    /// Set when the task the transfer works for is cancelled: the progress callback aborts it.
    var cancellation: CancellationToken?
    /// Error bodies are small; anything beyond this is cut.
    static let maxCollected = 16 << 20
}

/// Owns one CURL easy handle (and the header lists of each transfer). Not thread-safe: a pool
/// hands it to one transfer at a time, run on a dedicated thread.
final class CurlHandle: @unchecked Sendable {
    private let curl: UnsafeMutableRawPointer

    static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    init() throws {
        _ = Self.globalInit
        guard let curl = curl_easy_init() else { throw HTTPError(kind: .transport, status: 0, message: "cannot create a curl handle") }
        self.curl = curl
    }

    deinit {
        curl_easy_cleanup(curl)
    }

    /// One blocking HTTP request. Signs with libcurl's own AWS SigV4 when the request says how;
    /// aborted within about a second once `cancellation` is set.
    func perform(_ request: HTTPRequest, cancellation: CancellationToken?, sink: ((UnsafeRawBufferPointer) -> Bool)? = nil) throws -> HTTPResponse {
        let (method, url, headers, body, signing) = (request.method, request.url, request.headers, request.body, request.signing)
        let (verifyTLS, connectTimeoutSeconds, timeoutSeconds) = (request.verifyTLS, request.connectTimeoutSeconds, request.timeoutSeconds)
        curl_easy_reset(curl)
        let context = TransferContext()
        context.sink = sink
        context.upload = body
        context.cancellation = cancellation
        if case let .file(path, offset, _) = body {
            guard let file = FileHandle(forReadingAtPath: path) else {
                throw HTTPError(kind: .transport, status: 0, message: "cannot open \(path) to upload it")
            }
            try file.seek(toOffset: UInt64(offset))
            context.uploadFile = file
        }
        defer { try? context.uploadFile?.close() }
        let unmanaged = Unmanaged.passRetained(context)
        defer { unmanaged.release() }
        let userdata = unmanaged.toOpaque()

        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        // (No "Expect:" override to skip 100-continue: curl 7.88 would sign the removed header.)
        for header in headers { list = curl_slist_append(list, header) }

        var failures: [CURLcode] = []
        func check(_ code: CURLcode) { if code != CURLE_OK { failures.append(code) } }
        check(syncd_curl_set_string(curl, CURLOPT_URL, url))
        check(syncd_curl_set_string(curl, CURLOPT_CUSTOMREQUEST, method))
        check(syncd_curl_set_long(curl, CURLOPT_NOSIGNAL, 1))
        check(syncd_curl_set_long(curl, CURLOPT_CONNECTTIMEOUT, connectTimeoutSeconds))
        check(syncd_curl_set_long(curl, CURLOPT_TIMEOUT, timeoutSeconds))
        check(syncd_curl_set_long(curl, CURLOPT_SSL_VERIFYPEER, verifyTLS ? 1 : 0))
        check(syncd_curl_set_long(curl, CURLOPT_SSL_VERIFYHOST, verifyTLS ? 2 : 0))
        check(syncd_curl_set_slist(curl, CURLOPT_HTTPHEADER, list))
        // Servers that ignore "Expect: 100-continue" would otherwise cost a second per upload.
        check(syncd_curl_set_long(curl, CURLOPT_EXPECT_100_TIMEOUT_MS, 200))
        if method == "HEAD" { check(syncd_curl_set_long(curl, CURLOPT_NOBODY, 1)) }
        if let tls = request.tls {
            if let ca = tls.caFile { check(syncd_curl_set_string(curl, CURLOPT_CAINFO, ca)) }
            if let cert = tls.certFile { check(syncd_curl_set_string(curl, CURLOPT_SSLCERT, cert)) }
            if let key = tls.keyFile { check(syncd_curl_set_string(curl, CURLOPT_SSLKEY, key)) }
        }
        // curl's own words for a failure ("SSL certificate problem: unable to get local issuer
        // certificate") say far more than the error code's.
        var detail = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        if let signing {
            check(syncd_curl_set_string(curl, CURLOPT_AWS_SIGV4, "aws:amz:\(signing.region):s3"))
            check(syncd_curl_set_string(curl, CURLOPT_USERNAME, signing.accessKey))
            check(syncd_curl_set_string(curl, CURLOPT_PASSWORD, signing.secretKey))
        }
        check(syncd_curl_set_callback(curl, CURLOPT_HEADERFUNCTION, curlHeaderCallback))
        check(syncd_curl_set_pointer(curl, CURLOPT_HEADERDATA, userdata))
        check(syncd_curl_set_callback(curl, CURLOPT_WRITEFUNCTION, curlWriteCallback))
        check(syncd_curl_set_pointer(curl, CURLOPT_WRITEDATA, userdata))
        if cancellation != nil {
            check(syncd_curl_set_progress_callback(curl, curlProgressCallback))
            check(syncd_curl_set_pointer(curl, CURLOPT_XFERINFODATA, userdata))
        }
        if let body {
            check(syncd_curl_set_long(curl, CURLOPT_UPLOAD, 1))
            check(syncd_curl_set_off_t(curl, CURLOPT_INFILESIZE_LARGE, curl_off_t(body.length)))
            check(syncd_curl_set_callback(curl, CURLOPT_READFUNCTION, curlReadCallback))
            check(syncd_curl_set_pointer(curl, CURLOPT_READDATA, userdata))
            // CURLOPT_UPLOAD makes it a PUT; the custom method keeps POST for multipart calls.
            check(syncd_curl_set_string(curl, CURLOPT_CUSTOMREQUEST, method))
        }
        if let failure = failures.first {
            throw HTTPError(kind: .transport, status: 0, message: "curl setup: \(String(cString: curl_easy_strerror(failure)))")
        }
        let code = detail.withUnsafeMutableBufferPointer { buffer in
            _ = syncd_curl_set_pointer(curl, CURLOPT_ERRORBUFFER, buffer.baseAddress)
            defer { _ = syncd_curl_set_pointer(curl, CURLOPT_ERRORBUFFER, nil) }
            return curl_easy_perform(curl)
        }
        if code == CURLE_ABORTED_BY_CALLBACK, cancellation?.isCancelled == true { throw CancellationError() }
        if context.sinkFailed {
            throw HTTPError(kind: .transport, status: context.status, message: "the transfer was aborted by its consumer")
        }
        guard code == CURLE_OK else {
            let words = String(decoding: detail.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw HTTPError(kind: .transport, status: 0, message: words.isEmpty ? String(cString: curl_easy_strerror(code)) : words)
        }
        var status = 0
        _ = syncd_curl_get_long(curl, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: context.headers, body: context.body)
    }
}

private func curlHeaderCallback(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?) -> Int {
    guard let buffer, let userdata else { return 0 }
    let context = Unmanaged<TransferContext>.fromOpaque(userdata).takeUnretainedValue()
    let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: size * count), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        // A new response (after a redirect or 100 Continue): start over.
        context.headers = [:]
        context.status = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        context.headers[name] = value
    }
    return size * count
}

private func curlProgressCallback(_ userdata: UnsafeMutableRawPointer?, _: curl_off_t, _: curl_off_t, _: curl_off_t, _: curl_off_t) -> Int32 {
    guard let userdata else { return 0 }
    return Unmanaged<TransferContext>.fromOpaque(userdata).takeUnretainedValue().cancellation?.isCancelled == true ? 1 : 0
}

private func curlWriteCallback(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?) -> Int {
    guard let buffer, let userdata else { return 0 }
    let context = Unmanaged<TransferContext>.fromOpaque(userdata).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: buffer, count: size * count)
    if let sink = context.sink, (200..<300).contains(context.status) {
        guard sink(bytes) else {
            context.sinkFailed = true
            return 0
        }
    } else if context.body.count < TransferContext.maxCollected {
        context.body.append(contentsOf: bytes)
    }
    return size * count
}

private func curlReadCallback(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?) -> Int {
    guard let buffer, let userdata else { return 0 }
    let context = Unmanaged<TransferContext>.fromOpaque(userdata).takeUnretainedValue()
    guard let upload = context.upload else { return 0 }
    let room = min(size * count, Int(upload.length - context.uploadSent))
    guard room > 0 else { return 0 }
    switch upload {
    case let .bytes(bytes):
        let start = Int(context.uploadSent)
        bytes.withUnsafeBytes { source in
            guard let base = source.baseAddress else { return }
            UnsafeMutableRawPointer(buffer).copyMemory(from: base + start, byteCount: room)
        }
        context.uploadSent += Int64(room)
        return room
    case .file:
        guard let file = context.uploadFile, let data = try? file.read(upToCount: room), !data.isEmpty else {
            return Int(CURL_READFUNC_ABORT)
        }
        data.withUnsafeBytes { source in
            guard let base = source.baseAddress else { return }
            UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: data.count)
        }
        context.uploadSent += Int64(data.count)
        return data.count
    }
}
