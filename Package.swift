// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "syncd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "syncd", targets: ["syncd"]),
        .executable(name: "syncctl", targets: ["syncctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        // The API's TLS (already in the graph through Hummingbird; HummingbirdTLS builds on it).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        // NIO's HTTP types, for answering unparseable requests in the API's error shape (all already in the graph).
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.24.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.3.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
        // Digests of Redis values (already in the graph through Hummingbird's test client).
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // Core domain: config, adapter protocol, samples, gate. Yams for reading the config file,
        // Crypto for the journal's hash chain (shared by every journal store).
        .target(name: "SyncCore", dependencies: [.product(name: "Yams", package: "Yams"), .product(name: "Crypto", package: "swift-crypto")]),

        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // Builds hiredis replies in a per-connection arena instead of a heap allocation per reply.
        .target(name: "CHiredisArena", dependencies: ["CHiredis"]),
        // rdkafka.h plus one typed wrapper of the variadic rd_kafka_producev.
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // Typed wrappers of the variadic curl_easy_setopt / curl_easy_getinfo.
        .target(name: "CCurlShim", dependencies: ["CCurl"]),

        // libpq behind a small safe layer, on its own so a PostgreSQL journal can share it without the adapter.
        .target(name: "PostgresClient", dependencies: ["SyncCore", "CLibPQ"]),
        .target(name: "PostgresSource", dependencies: ["SyncCore", "PostgresClient"]),
        // hiredis, librdkafka and libcurl likewise: each C library behind one client module that owns its pointers.
        .target(name: "RedisClient", dependencies: ["SyncCore", "CHiredis", "CHiredisArena"]),
        .target(name: "KafkaClient", dependencies: ["SyncCore", "CRdKafka"]),
        .target(name: "CurlClient", dependencies: ["SyncCore", "CCurl", "CCurlShim"]),
        .target(name: "RedisSource", dependencies: ["SyncCore", "RedisClient", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "KafkaSource", dependencies: ["SyncCore", "KafkaClient"]),
        .target(name: "ObjectStoreSource", dependencies: ["SyncCore", "CurlClient", .product(name: "Crypto", package: "swift-crypto")]),

        // The audit journal in an SQLite file, behind SyncCore's JournalStore.
        .target(name: "SQLiteJournal", dependencies: ["SyncCore", "CSQLite"]),
        // The audit journal in a PostgreSQL database several instances share (libpq through PostgresClient).
        .target(name: "PostgresJournal", dependencies: ["SyncCore", "PostgresClient"]),
        // The one module that links every adapter and journal store; only the executables depend on it.
        .target(name: "SourceRegistry", dependencies: ["SyncCore", "PostgresSource", "RedisSource", "KafkaSource", "ObjectStoreSource",
                                                       "SQLiteJournal", "PostgresJournal"]),

        // Links no adapter and no storage module: adapters and the journal come in through SyncCore's protocols.
        .target(name: "SyncManager", dependencies: [
            "SyncCore",
            // SHA-256 of cutover reports.
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        .target(name: "SyncAPI", dependencies: [
            "SyncCore", "SyncManager", "CurlClient",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            // HMAC of the status page's session cookies.
            .product(name: "Crypto", package: "swift-crypto"),
        ]),

        .executableTarget(name: "syncd", dependencies: [
            "SyncCore", "SyncManager", "SyncAPI", "SQLiteJournal", "PostgresJournal", "SourceRegistry", "CurlClient",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
        ]),
        // syncctl also runs the engine in-process (--config), so it links what syncd links.
        .executableTarget(name: "syncctl", dependencies: [
            "SyncCore", "SyncManager", "SyncAPI", "SQLiteJournal", "PostgresJournal", "SourceRegistry", "CurlClient",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),

        .testTarget(name: "SyncCoreTests", dependencies: ["SyncCore", "TestSupport"]),
        // The config file as the executables read it: every kind's keys through its descriptor.
        .testTarget(name: "SourceRegistryTests", dependencies: [
            "SyncCore", "SourceRegistry", "PostgresClient", "PostgresSource", "RedisSource", "KafkaClient", "KafkaSource", "ObjectStoreSource",
        ]),
        // Helpers shared by the tests that drive the real servers of integration/.
        .target(name: "TestSupport", dependencies: [
            "SyncCore", "SyncManager", "SQLiteJournal",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], path: "Tests/TestSupport"),
        .testTarget(name: "PostgresSourceTests", dependencies: [
            "SyncCore", "PostgresClient", "PostgresSource", "SyncManager", "SyncAPI", "SQLiteJournal", "TestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .testTarget(name: "RedisSourceTests", dependencies: [
            "SyncCore", "RedisClient", "RedisSource", "SyncManager", "SQLiteJournal", "TestSupport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .testTarget(name: "KafkaSourceTests", dependencies: ["KafkaClient", "KafkaSource", "SyncCore", "TestSupport"]),
        .testTarget(name: "ObjectStoreSourceTests", dependencies: [
            "CurlClient", "ObjectStoreSource", "SyncCore", "SyncManager", "SQLiteJournal", "TestSupport",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        // Runs the built syncd and syncctl binaries against the real servers.
        .testTarget(name: "EndToEndTests", dependencies: ["SyncCore"]),
        // The SQLite journal's chain, pruning and indexes, on real files (tampered with through SQLite itself).
        .testTarget(name: "SQLiteJournalTests", dependencies: ["SyncCore", "SQLiteJournal", "CSQLite"]),
        // The shared journal on the PostgreSQL cluster integration/pg.sh starts for it.
        .testTarget(name: "PostgresJournalTests", dependencies: ["SyncCore", "PostgresJournal", "PostgresClient", "SQLiteJournal", "SourceRegistry"]),
        // The CLI's pure output logic (tables, progress lines).
        .testTarget(name: "SyncctlTests", dependencies: ["syncctl", "SyncCore", "SyncManager"]),
        // The manager and its poll loop with a scripted adapter; links no adapter module.
        .testTarget(name: "SyncManagerTests", dependencies: [
            "SyncCore", "SyncManager", "SQLiteJournal", "TestSupport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .testTarget(name: "SyncAPITests", dependencies: [
            "SyncCore", "SyncManager", "SyncAPI", "SQLiteJournal", "TestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
