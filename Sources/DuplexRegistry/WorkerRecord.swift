/// What a worker announces about itself in the registry.
///
/// Stored as JSON with snake_case keys under `<prefix>:worker:<name>` (see ``RegistryConfiguration``)
/// by ``WorkerRegistrar`` and read by ``RegistryWatcher``:
///
/// ```json
/// {"name":"w1","address":"grpc://127.0.0.1:7001","capabilities":["cpu_ok","streaming"],
///  "languages":["en-us"],"models":["kokoro-82m"],"resident_models":["kokoro-82m"],
///  "hardware":{"cpu_cores":8,"gpu":null},
///  "metrics":{"active_sessions":2,"queue_depth":0,"rtf_p50":0.21,"first_audio_p50_ms":180,
///             "predicted_first_audio_ms":60,"predicted_wait_ms":0,"earliest_slack_ms":840,"busy_fraction":0.31},
///  "version":"0.4.0","started_at":1730000000000,"updated_at":1730000010000,"ready":true}
/// ```
///
/// Decoding is lenient for forward/backward compatibility: lists, `hardware`, `metrics`,
/// `version` and the timestamps may be missing (empty/zero defaults); `name` and `address` are required.
public struct WorkerRecord: Sendable, Codable, Hashable {
    /// The hardware a worker runs on.
    public struct Hardware: Sendable, Codable, Hashable {
        /// CPU cores available to the worker.
        public var cpuCores: Int
        /// The GPU model, or `nil` for CPU-only workers.
        public var gpu: String?

        /// Creates a hardware description.
        public init(cpuCores: Int = 0, gpu: String? = nil) {
            self.cpuCores = cpuCores
            self.gpu = gpu
        }

        enum CodingKeys: String, CodingKey {
            case cpuCores = "cpu_cores"
            case gpu
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            cpuCores = try container.decodeIfPresent(Int.self, forKey: .cpuCores) ?? 0
            gpu = try container.decodeIfPresent(String.self, forKey: .gpu)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(cpuCores, forKey: .cpuCores)
            try container.encode(gpu, forKey: .gpu)  // explicit null: the key is always present
        }
    }

    /// Load and latency figures the router uses; refreshed at every heartbeat.
    public struct Metrics: Sendable, Codable, Hashable {
        /// Sessions currently streaming on the worker.
        public var activeSessions: Int
        /// Synthesis requests waiting for a free slot.
        public var queueDepth: Int
        /// Median real-time factor (synthesis time / audio duration); 0 if unknown.
        public var rtfP50: Double
        /// Median time to first audio in milliseconds; 0 if unknown.
        public var firstAudioP50Ms: Double
        /// How long a new reply's first clause would take on the worker, from its inference
        /// queue (ms; one call when idle; 0 until measured).
        public var predictedFirstAudioMs: Double = 0
        /// The part of it spent waiting for the jobs ahead (ms; 0 when the queue is idle). The
        /// router ranks on it first.
        public var predictedWaitMs: Double = 0
        /// Time to the earliest deadline in the inference queue (ms; negative when overdue);
        /// nil when nothing waits.
        public var earliestSlackMs: Double?
        /// Share of the inference threads used over the last minute (0–1).
        public var busyFraction: Double = 0

        /// Creates metrics; all default to zero (idle, unknown latency).
        public init(
            activeSessions: Int = 0, queueDepth: Int = 0, rtfP50: Double = 0, firstAudioP50Ms: Double = 0,
            predictedFirstAudioMs: Double = 0, predictedWaitMs: Double = 0, earliestSlackMs: Double? = nil, busyFraction: Double = 0
        ) {
            self.activeSessions = activeSessions
            self.queueDepth = queueDepth
            self.rtfP50 = rtfP50
            self.firstAudioP50Ms = firstAudioP50Ms
            self.predictedFirstAudioMs = predictedFirstAudioMs
            self.predictedWaitMs = predictedWaitMs
            self.earliestSlackMs = earliestSlackMs
            self.busyFraction = busyFraction
        }

        enum CodingKeys: String, CodingKey {
            case activeSessions = "active_sessions"
            case queueDepth = "queue_depth"
            case rtfP50 = "rtf_p50"
            case firstAudioP50Ms = "first_audio_p50_ms"
            case predictedFirstAudioMs = "predicted_first_audio_ms"
            case predictedWaitMs = "predicted_wait_ms"
            case earliestSlackMs = "earliest_slack_ms"
            case busyFraction = "busy_fraction"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            activeSessions = try container.decodeIfPresent(Int.self, forKey: .activeSessions) ?? 0
            queueDepth = try container.decodeIfPresent(Int.self, forKey: .queueDepth) ?? 0
            rtfP50 = try container.decodeIfPresent(Double.self, forKey: .rtfP50) ?? 0
            firstAudioP50Ms = try container.decodeIfPresent(Double.self, forKey: .firstAudioP50Ms) ?? 0
            predictedFirstAudioMs = try container.decodeIfPresent(Double.self, forKey: .predictedFirstAudioMs) ?? 0
            predictedWaitMs = try container.decodeIfPresent(Double.self, forKey: .predictedWaitMs) ?? 0
            earliestSlackMs = try container.decodeIfPresent(Double.self, forKey: .earliestSlackMs)
            busyFraction = try container.decodeIfPresent(Double.self, forKey: .busyFraction) ?? 0
        }
    }

    /// Unique worker name; the registry key is derived from it.
    public var name: String
    /// Where the orchestrator reaches the worker's gRPC TTS ABI, e.g. `grpc://127.0.0.1:7001`.
    public var address: String
    /// Feature flags such as `cpu_ok`, `streaming`, `zero_shot`, `lora`, `expressive`.
    public var capabilities: [String]
    /// BCP 47 language tags the worker can speak, e.g. `en-us`.
    public var languages: [String]
    /// Catalog model ids the worker can serve (loading them if needed).
    public var models: [String]
    /// Model ids currently loaded in memory (serving them needs no load).
    public var residentModels: [String]
    /// The hardware the worker runs on.
    public var hardware: Hardware
    /// Current load and latency.
    public var metrics: Metrics
    /// The worker's software version.
    public var version: String
    /// When the worker process started, in Unix milliseconds.
    public var startedAt: Int64
    /// When this record was written, in Unix milliseconds (set by ``WorkerRegistrar`` at each write).
    public var updatedAt: Int64
    /// Whether the worker accepts sessions; the router skips workers that are not ready.
    public var ready: Bool

    /// Creates a record; everything but `name` and `address` has an empty default.
    public init(
        name: String,
        address: String,
        capabilities: [String] = [],
        languages: [String] = [],
        models: [String] = [],
        residentModels: [String] = [],
        hardware: Hardware = Hardware(),
        metrics: Metrics = Metrics(),
        version: String = "",
        startedAt: Int64 = 0,
        updatedAt: Int64 = 0,
        ready: Bool = true
    ) {
        self.name = name
        self.address = address
        self.capabilities = capabilities
        self.languages = languages
        self.models = models
        self.residentModels = residentModels
        self.hardware = hardware
        self.metrics = metrics
        self.version = version
        self.startedAt = startedAt
        self.updatedAt = updatedAt
        self.ready = ready
    }

    enum CodingKeys: String, CodingKey {
        case name, address, capabilities, languages, models
        case residentModels = "resident_models"
        case hardware, metrics, version
        case startedAt = "started_at"
        case updatedAt = "updated_at"
        case ready
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        address = try container.decode(String.self, forKey: .address)
        capabilities = try container.decodeIfPresent([String].self, forKey: .capabilities) ?? []
        languages = try container.decodeIfPresent([String].self, forKey: .languages) ?? []
        models = try container.decodeIfPresent([String].self, forKey: .models) ?? []
        residentModels = try container.decodeIfPresent([String].self, forKey: .residentModels) ?? []
        hardware = try container.decodeIfPresent(Hardware.self, forKey: .hardware) ?? Hardware()
        metrics = try container.decodeIfPresent(Metrics.self, forKey: .metrics) ?? Metrics()
        version = try container.decodeIfPresent(String.self, forKey: .version) ?? ""
        startedAt = try container.decodeIfPresent(Int64.self, forKey: .startedAt) ?? 0
        updatedAt = try container.decodeIfPresent(Int64.self, forKey: .updatedAt) ?? 0
        ready = try container.decodeIfPresent(Bool.self, forKey: .ready) ?? false
    }
}
