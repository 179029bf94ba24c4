import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import SyncCore

/// The API's TLS settings from the config's PEM files. Every problem is a ConfigError naming the
/// file, the key and what is wrong, found before syncd listens (and by --check-config).
public enum TLSSetup {
    public static func serverConfiguration(_ files: TLSFiles, now: Date = Date()) throws -> TLSConfiguration {
        let chain = try certificates(files.cert, what: "certificate")
        let leaf = chain[0]
        let notAfter = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        let notBefore = Date(timeIntervalSince1970: TimeInterval(leaf.notValidBefore))
        guard notAfter > now else { throw files.cert.problem("the certificate expired on \(stamp(notAfter))") }
        guard notBefore <= now else { throw files.cert.problem("the certificate is not valid before \(stamp(notBefore))") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.key.path, format: .pem)
        } catch {
            throw files.key.problem("not an unencrypted PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                                     privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        // Closing a connection waits at most this for the client's close_notify (NIO's default, 5 s,
        // held syncd's shutdown with a client that had gone without one).
        configuration.shutdownTimeout = .milliseconds(500)
        if let caFile = files.clientCA {
            // Mutual TLS: a client must present a certificate this CA signed.
            configuration.trustRoots = .certificates(try certificates(caFile, what: "CA certificate"))
            configuration.certificateVerification = .noHostnameVerification
        }
        do {
            // BoringSSL refuses a key that is not the certificate's here (KEY_VALUES_MISMATCH).
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw files.key.problem("this key and the certificate \(files.cert.path) cannot serve TLS together; is it the certificate's key? (\(error))")
        }
        return configuration
    }

    static func certificates(_ file: ConfigFile, what: String) throws -> [NIOSSLCertificate] {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(file.path)
        } catch {
            throw file.problem("not a PEM \(what) (\(error))")
        }
        guard !chain.isEmpty else { throw file.problem("holds no PEM \(what)") }
        return chain
    }

    static func stamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: date)
    }
}

extension SyncAPI {
    /// The HTTP/1.1 server syncd runs: TLS when configured, and unparseable requests answered in
    /// the API's error shape.
    public static func httpServer(tls: TLSConfiguration?) throws -> HTTPServerBuilder {
        let http = HTTPServerBuilder.http1(configuration: .init(additionalChannelHandlers: [ParserErrorShape()]))
        guard let tls else { return http }
        return try .tls(http, tlsConfiguration: tls)
    }
}
