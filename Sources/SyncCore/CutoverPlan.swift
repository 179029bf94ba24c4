import Foundation
import Yams

/// What a cutover does to one source. Every field has the default a run without a plan uses.
public struct CutoverStep: Sendable, Codable, Equatable {
    public enum OnFailure: String, Sendable, Codable, CaseIterable {
        /// Stop the run: later stages do not start (sources already running finish).
        case abort
        /// Try the source again, `retries` times, `retryBackoffSeconds` apart.
        case retry
        /// Record the failure and go on with the rest.
        case `continue`
    }

    public var source: String
    /// False for a copy refreshed now and then (a periodic `resync`), not streamed: there is no
    /// position it could catch up to, so the run skips the drain and the check judges the data.
    public var drain: Bool
    public var drainTimeoutSeconds: Double
    public var rounds: Int
    /// Stricter than the config's threshold (a plan may raise it, never lower it); nil keeps it.
    public var ratioThreshold: Double?
    /// A failed optional source degrades the run instead of failing it.
    public var required: Bool
    public var onFailure: OnFailure
    public var retries: Int
    public var retryBackoffSeconds: Double
    /// Pause replication once the source passed (a planned switchover); never in a drill.
    public var pauseAfter: Bool

    public static let defaultDrainTimeoutSeconds: Double = 30

    public init(source: String, drain: Bool = true, drainTimeoutSeconds: Double = CutoverStep.defaultDrainTimeoutSeconds, rounds: Int = 3,
                ratioThreshold: Double? = nil, required: Bool = true, onFailure: OnFailure = .continue, retries: Int = 0,
                retryBackoffSeconds: Double = 5, pauseAfter: Bool = false) {
        self.source = source
        self.drain = drain
        self.drainTimeoutSeconds = drainTimeoutSeconds
        self.rounds = rounds
        self.ratioThreshold = ratioThreshold
        self.required = required
        self.onFailure = onFailure
        self.retries = retries
        self.retryBackoffSeconds = retryBackoffSeconds
        self.pauseAfter = pauseAfter
    }

    enum CodingKeys: String, CodingKey {
        case source, drain, drainTimeoutSeconds, rounds, ratioThreshold, required, onFailure, retries, retryBackoffSeconds, pauseAfter
    }

    /// Only `source` is needed; the rest take the defaults a plan file has.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = CutoverStep(source: try container.decode(String.self, forKey: .source))
        self.init(source: defaults.source,
                  drain: try container.decodeIfPresent(Bool.self, forKey: .drain) ?? defaults.drain,
                  drainTimeoutSeconds: try container.decodeIfPresent(Double.self, forKey: .drainTimeoutSeconds) ?? defaults.drainTimeoutSeconds,
                  rounds: try container.decodeIfPresent(Int.self, forKey: .rounds) ?? defaults.rounds,
                  ratioThreshold: try container.decodeIfPresent(Double.self, forKey: .ratioThreshold),
                  required: try container.decodeIfPresent(Bool.self, forKey: .required) ?? defaults.required,
                  onFailure: try container.decodeIfPresent(OnFailure.self, forKey: .onFailure) ?? defaults.onFailure,
                  retries: try container.decodeIfPresent(Int.self, forKey: .retries) ?? defaults.retries,
                  retryBackoffSeconds: try container.decodeIfPresent(Double.self, forKey: .retryBackoffSeconds) ?? defaults.retryBackoffSeconds,
                  pauseAfter: try container.decodeIfPresent(Bool.self, forKey: .pauseAfter) ?? defaults.pauseAfter)
        guard (1...20).contains(rounds), drainTimeoutSeconds > 0, (0...10).contains(retries), retryBackoffSeconds >= 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "source '\(source)': rounds 1-20, drain_timeout_seconds > 0, retries 0-10, retry_backoff_seconds >= 0"))
        }
        if let ratioThreshold, !(ratioThreshold > 0 && ratioThreshold <= 1) {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "source '\(source)': ratio_threshold must be greater than 0 and at most 1"))
        }
    }
}

/// Ordered stages; the sources of one stage run in parallel. No commands: a plan only says which
/// sources, in what order and how strictly.
public struct CutoverPlan: Sendable, Codable, Equatable {
    public struct Stage: Sendable, Codable, Equatable {
        public var name: String
        public var steps: [CutoverStep]

        public init(name: String, steps: [CutoverStep]) {
            self.name = name
            self.steps = steps
        }
    }

    public var stages: [Stage]

    public init(stages: [Stage]) { self.stages = stages }

    /// One stage of every named source, with the defaults.
    public static func everySource(_ names: [String]) -> CutoverPlan {
        CutoverPlan(stages: [Stage(name: "all", steps: names.map { CutoverStep(source: $0) })])
    }

    public var sources: [String] { stages.flatMap { $0.steps.map(\.source) } }
}

public enum CutoverPlanLoader {
    static let stageKeys = ["name", "sources"]
    static let stepKeys = ["source", "drain", "drain_timeout", "rounds", "ratio_threshold", "required", "on_failure", "retries", "retry_backoff",
                           "pause_after"]

    public static func load(file: String) throws -> CutoverPlan {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigError(file: file, line: nil, keyPath: "", message: "cannot read the plan file: \(error.localizedDescription)")
        }
        return try parse(yaml: text, file: file)
    }

    /// Validates the plan's own shape; which sources exist is checked when the run starts.
    public static func parse(yaml: String, file: String) throws -> CutoverPlan {
        let root = try ConfigLoader.document(yaml: yaml, file: file, empty: "the plan is empty")
        let reader = ConfigReader(file: file, baseDirectory: "/", environment: [:])
        let top = ConfigNode(node: root, path: "")
        let map = try reader.mapping(top, allowed: ["stages"])
        let stagesNode = try reader.required(map, "stages", in: top)
        guard case let .sequence(stages) = stagesNode.node, !stages.isEmpty else {
            throw reader.fail(stagesNode, "expected a non-empty list of stages, each {name, sources: [...]}")
        }
        var seen: Set<String> = []
        var plan = CutoverPlan(stages: [])
        for (stageIndex, stageNode) in stages.enumerated() {
            let at = ConfigNode(node: stageNode, path: "stages[\(stageIndex)]")
            let stageMap = try reader.mapping(at, allowed: stageKeys)
            let name = try stageMap["name"].map(reader.string) ?? "stage \(stageIndex + 1)"
            let sourcesNode = try reader.required(stageMap, "sources", in: at)
            guard case let .sequence(items) = sourcesNode.node, !items.isEmpty else {
                throw reader.fail(sourcesNode, "expected a non-empty list of sources, each {source: NAME, ...}")
            }
            var steps: [CutoverStep] = []
            for (index, item) in items.enumerated() {
                let stepNode = ConfigNode(node: item, path: "\(sourcesNode.path)[\(index)]")
                let step = try self.step(reader, stepNode)
                guard seen.insert(step.source).inserted else {
                    throw reader.fail(stepNode, "source '\(step.source)' appears twice in the plan")
                }
                steps.append(step)
            }
            plan.stages.append(CutoverPlan.Stage(name: name, steps: steps))
        }
        return plan
    }

    static func step(_ reader: ConfigReader, _ at: ConfigNode) throws -> CutoverStep {
        let map = try reader.mapping(at, allowed: stepKeys)
        var step = CutoverStep(source: try reader.string(try reader.required(map, "source", in: at)))
        if let node = map["drain"] { step.drain = try reader.bool(node) }
        if let node = map["drain_timeout"] {
            step.drainTimeoutSeconds = try reader.duration(node)
            guard step.drain else { throw reader.fail(node, "drain_timeout needs drain: true (this step skips the drain)") }
        }
        if let node = map["rounds"] { step.rounds = try reader.int(node, range: 1...20) }
        if let node = map["ratio_threshold"] {
            let threshold = try reader.double(node)
            guard threshold > 0, threshold <= 1 else { throw reader.fail(node, "must be greater than 0 and at most 1, got \(threshold)") }
            step.ratioThreshold = threshold
        }
        if let node = map["required"] { step.required = try reader.bool(node) }
        if let node = map["on_failure"] { step.onFailure = try reader.choice(node, "on_failure", of: CutoverStep.OnFailure.self) }
        if let node = map["retries"] {
            step.retries = try reader.int(node, range: 0...10)
            guard step.onFailure == .retry else { throw reader.fail(node, "retries needs on_failure: retry") }
        } else if step.onFailure == .retry {
            step.retries = 2
        }
        if let node = map["retry_backoff"] {
            step.retryBackoffSeconds = try reader.duration(node)
            guard step.onFailure == .retry else { throw reader.fail(node, "retry_backoff needs on_failure: retry") }
        }
        if let node = map["pause_after"] { step.pauseAfter = try reader.bool(node) }
        return step
    }
}
