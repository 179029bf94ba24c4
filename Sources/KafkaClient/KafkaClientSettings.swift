import Foundation
import SyncCore

/// How to reach one cluster, as librdkafka configuration properties.
public struct KafkaClientSettings: Sendable {
    public var properties: [(String, String)]

    public init(endpoint: EndpointConfig, clientID: String) {
        properties = [
            ("bootstrap.servers", endpoint.bootstrap ?? "\(endpoint.host):\(endpoint.port)"),
            ("client.id", clientID),
            ("socket.timeout.ms", String(max(1, endpoint.connectTimeoutSeconds) * 1000 * 2)),
            ("socket.connection.setup.timeout.ms", String(max(1, endpoint.connectTimeoutSeconds) * 1000)),
        ]
        if let user = endpoint.user {
            properties += [("security.protocol", endpoint.kafka.tls ? "sasl_ssl" : "sasl_plaintext"),
                           ("sasl.mechanisms", endpoint.kafka.saslMechanism ?? "PLAIN"), ("sasl.username", user)]
            if let password = endpoint.password { properties.append(("sasl.password", password.value)) }
        } else if endpoint.kafka.tls {
            properties.append(("security.protocol", "ssl"))
        }
        if endpoint.kafka.tls { properties.append(("enable.ssl.certificate.verification", "true")) }
    }
}
