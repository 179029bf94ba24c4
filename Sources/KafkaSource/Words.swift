import KafkaClient
import SyncCore

extension SourceWords {
    /// How Kafka results read: topics of records, compared in chunks of each partition.
    static let kafka = SourceWords(scope: "topic", scopes: "topics", item: "record", items: "records", segments: "chunks")
}
