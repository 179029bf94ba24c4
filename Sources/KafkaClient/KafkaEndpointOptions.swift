import Foundation
import SyncCore

/// A Kafka endpoint's own settings: the broker list and how to authenticate.
public struct KafkaEndpointOptions: KindOptions, Equatable {
    public static let saslMechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

    /// The bootstrap broker list ("h1:9092,h2:9092"); the endpoint's host/port name its first broker.
    public var bootstrap: String?
    /// SASL mechanism when the endpoint has a user (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).
    public var saslMechanism: String?
    /// Connect with TLS (certificates verified).
    public var tls: Bool

    public init(bootstrap: String? = nil, saslMechanism: String? = nil, tls: Bool = false) {
        self.bootstrap = bootstrap
        self.saslMechanism = saslMechanism
        self.tls = tls
    }
}

extension EndpointConfig {
    public var kafka: KafkaEndpointOptions {
        get { options as? KafkaEndpointOptions ?? KafkaEndpointOptions() }
        set { options = newValue }
    }

    public var bootstrap: String? {
        get { kafka.bootstrap }
        set { kafka.bootstrap = newValue }
    }
}
