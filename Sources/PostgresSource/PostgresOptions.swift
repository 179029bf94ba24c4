import PostgresClient
import SyncCore

/// PostgreSQL-specific options of a source.
public struct PostgresOptions: KindOptions, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        case auto, physical, logical, independent
    }
    public var mode: Mode
    /// The subscription on the DR side (logical mode). Optional when the DR database has exactly one.
    public var subscription: String?
    /// Tables to check (schema.table or table); nil means every table of `schemas`.
    public var tables: [String]?
    public var schemas: [String]
    /// `mode: independent`: a table syncd writes on the primary each poll and reads on the DR side.
    public var heartbeatTable: String?
    /// Per table (`schema.table`): what the check leaves out or normalises (`table_rules`).
    public var tableRules: [TableRule] = []
    /// Tables whose whole-table digests are taken at once, each over its own connection per side
    /// sharing that side's snapshot (`check_concurrency`).
    public var checkConcurrency: Int = PostgresOptions.defaultCheckConcurrency
    public static let defaultCheckConcurrency = 4

    public init(mode: Mode = .auto, subscription: String? = nil, tables: [String]? = nil, schemas: [String] = ["public"]) {
        self.mode = mode
        self.subscription = subscription
        self.tables = tables
        self.schemas = schemas
    }
}

extension SourceKind {
    public static let postgres = SourceKind(rawValue: "postgres")
}

extension SourceConfig {
    public var postgres: PostgresOptions? {
        get { options as? PostgresOptions }
        set { options = newValue }
    }
}

extension PostgresSource {
    /// Defaults from SPEC §1 (lag budgets seen in practice) and the issues (poll intervals).
    public static let descriptor = SourceDescriptor(
        kind: .postgres,
        defaults: SourceDefaults(pollIntervalSeconds: 1, pollTimeoutSeconds: 5, lagBudgetSeconds: 30),
        optionKeys: ["mode", "subscription", "tables", "schemas", "heartbeat_table", "table_rules", "check_concurrency"],
        readEndpoint: { reader, node in try reader.postgresEndpoint(node) },
        readOptions: { reader, section in
            var options = PostgresOptions()
            if let node = section.keys["mode"] { options.mode = try reader.choice(node, "mode", of: PostgresOptions.Mode.self) }
            options.subscription = try section.keys["subscription"].map(reader.string)
            options.tables = try section.keys["tables"].map { try reader.stringList($0) }
            if let node = section.keys["schemas"] { options.schemas = try reader.stringList(node) }
            if let node = section.keys["heartbeat_table"] {
                guard options.mode == .independent else {
                    throw reader.fail(node, "heartbeat_table is for mode: independent (streaming and logical pairs measure lag from their positions)")
                }
                options.heartbeatTable = try reader.string(node)
            }
            if let node = section.keys["table_rules"] { options.tableRules = try TableRule.read(reader, node) }
            if let node = section.keys["check_concurrency"] { options.checkConcurrency = try reader.int(node, range: 1...32) }
            return options
        },
        makeAdapter: { PostgresSource(config: $0) })
}
