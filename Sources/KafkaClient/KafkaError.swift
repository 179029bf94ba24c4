import CRdKafka
import Foundation
import SyncCore

/// A librdkafka failure, with the error's name and text.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var message: String

    init(_ code: rd_kafka_resp_err_t, _ context: String) {
        self.code = code.rawValue
        message = "\(context): \(String(cString: rd_kafka_err2str(code)))"
    }

    init(code: rd_kafka_resp_err_t, message: String) {
        self.code = code.rawValue
        self.message = message
    }

    init(message: String) {
        code = RD_KAFKA_RESP_ERR_UNKNOWN.rawValue
        self.message = message
    }

    public var description: String { message }

    /// Transport-level failures: the cluster could not be reached or did not answer.
    public var isUnreachable: Bool {
        [RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
         RD_KAFKA_RESP_ERR__RESOLVE, RD_KAFKA_RESP_ERR__AUTHENTICATION].map(\.rawValue).contains(code)
    }
}
