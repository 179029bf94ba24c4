import KafkaSource
import ObjectStoreSource
import PostgresSource
import RedisSource
import SyncCore

/// The one place that knows every adapter module: the executables read their config and build
/// their adapters through it, so the manager and the API link none of them.
public enum SourceRegistry {
    public static let descriptors: [SourceDescriptor] = [
        PostgresSource.descriptor, RedisSource.descriptor, KafkaSource.descriptor, ObjectStoreSource.descriptor,
    ]

    public static func loadConfig(file: String) throws -> SyncdConfig {
        try ConfigLoader.load(file: file, kinds: descriptors)
    }

    /// Each source with its adapter. A source's kind comes from `loadConfig`, which accepts only
    /// registered kinds; a config built by other means with another kind is refused by name.
    public static func adapters(for sources: [SourceConfig]) throws -> [(SourceConfig, any SourceAdapter)] {
        try sources.map { source in
            guard let descriptor = descriptors.first(where: { $0.kind == source.kind }) else {
                throw SyncError.failed("source '\(source.name)' has kind '\(source.kind)', which this build does not know (known: \(descriptors.map(\.kind.rawValue).joined(separator: ", ")))")
            }
            return (source, descriptor.makeAdapter(source))
        }
    }
}
