import KafkaSource
import ObjectStoreSource
import PostgresSource
import RedisSource
import SyncCore

/// The one place that knows every adapter module: the executables build their adapters here, so
/// the manager and the API link none of them.
public enum SourceRegistry {
    public static func adapter(for config: SourceConfig) -> any SourceAdapter {
        switch config.kind {
        case .postgres: PostgresSource(config: config)
        case .redis: RedisSource(config: config)
        case .kafka: KafkaSource(config: config)
        case .objectStore: ObjectStoreSource(config: config)
        }
    }
}
