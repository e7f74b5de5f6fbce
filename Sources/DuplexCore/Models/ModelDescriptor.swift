/// A catalog entry: one installed voice (model) that an adapter family can load.
///
/// Descriptors come from voice packs on disk (`voicepacks/<family>/<model_id>/metadata.yaml`)
/// and are pure values: loading is the adapter's job.
public struct ModelDescriptor: Sendable, Hashable {
    /// Unique id, e.g. `piper-en-us-joe`.
    public var modelID: String
    /// Adapter family, e.g. `piper`, `espeak`, `sine`.
    public var family: String
    /// Human-readable name.
    public var displayName: String
    /// BCP-47-like language tags in lower case, e.g. `en-us`.
    public var languages: [String]
    /// Native sample rate of the model's output.
    public var sampleRate: Int
    /// Tags such as `cpu_ok`, `streaming`, `expressive`, `lora`, `zero_shot`.
    public var tags: Set<String>
    /// The pack folder, or nil for built-in models.
    public var directory: String?
    /// Named files of the pack (e.g. `model`, `config`), as absolute paths.
    public var files: [String: String]
    /// Other metadata (license, source, voice, …) as strings.
    public var metadata: [String: String]

    /// Creates a descriptor.
    public init(
        modelID: String, family: String, displayName: String? = nil, languages: [String],
        sampleRate: Int, tags: Set<String> = [], directory: String? = nil,
        files: [String: String] = [:], metadata: [String: String] = [:]
    ) {
        self.modelID = modelID
        self.family = family
        self.displayName = displayName ?? modelID
        self.languages = languages
        self.sampleRate = sampleRate
        self.tags = tags
        self.directory = directory
        self.files = files
        self.metadata = metadata
    }
}
