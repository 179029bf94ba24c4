import Foundation

/// The options one kind adds to a source or to an endpoint; SyncCore carries them without
/// knowing their shape, and each adapter reads them back with `as?` behind a typed property.
public protocol KindOptions: Sendable {
    func isEqual(to other: any KindOptions) -> Bool
}

extension KindOptions where Self: Equatable {
    public func isEqual(to other: any KindOptions) -> Bool { (other as? Self) == self }
}

func optionsEqual(_ lhs: (any KindOptions)?, _ rhs: (any KindOptions)?) -> Bool {
    switch (lhs, rhs) {
    case (nil, nil): true
    case let (left?, right?): left.isEqual(to: right)
    default: false
    }
}

/// What a kind uses when its config leaves a setting out.
public struct SourceDefaults: Sendable, Equatable {
    public var pollIntervalSeconds: Double
    /// How long one poll may take before the source counts as unreachable (SPEC §4: a hung server
    /// fails the gate at once).
    public var pollTimeoutSeconds: Double
    public var lagBudgetSeconds: Double

    public init(pollIntervalSeconds: Double, pollTimeoutSeconds: Double, lagBudgetSeconds: Double) {
        self.pollIntervalSeconds = pollIntervalSeconds
        self.pollTimeoutSeconds = pollTimeoutSeconds
        self.lagBudgetSeconds = lagBudgetSeconds
    }
}

/// One source's own section of the config: the keys beyond the common ones, already checked
/// against the kind's list, and the node to blame for a missing key.
public struct SourceSection {
    public let name: String
    public let node: ConfigNode
    public let keys: [String: ConfigNode]
}

/// Everything SyncCore, the manager and the executables need to know about one kind of source.
/// Each adapter module exports one; the executables register them (SourceRegistry), so adding a
/// kind touches its own module and the registry only.
public struct SourceDescriptor: Sendable {
    public var kind: SourceKind
    public var defaults: SourceDefaults
    /// The keys a source of this kind may have beyond the common ones (name, kind, primary, ...).
    public var optionKeys: [String]
    /// Reads one side (`primary` or `dr`).
    public var readEndpoint: @Sendable (ConfigReader, ConfigNode) throws -> EndpointConfig
    /// Reads the kind's own keys into its options.
    public var readOptions: @Sendable (ConfigReader, SourceSection) throws -> (any KindOptions)?
    public var makeAdapter: @Sendable (SourceConfig) -> any SourceAdapter

    public init(kind: SourceKind, defaults: SourceDefaults, optionKeys: [String],
                readEndpoint: @escaping @Sendable (ConfigReader, ConfigNode) throws -> EndpointConfig,
                readOptions: @escaping @Sendable (ConfigReader, SourceSection) throws -> (any KindOptions)?,
                makeAdapter: @escaping @Sendable (SourceConfig) -> any SourceAdapter) {
        self.kind = kind
        self.defaults = defaults
        self.optionKeys = optionKeys
        self.readEndpoint = readEndpoint
        self.readOptions = readOptions
        self.makeAdapter = makeAdapter
    }
}
