import ArgumentParser

/// Model-manager flags shared by `duplex worker` and `duplex serve`.
struct ModelManagerOptions: ParsableArguments {
    @Option(help: "Models to load after the default one, comma-separated (model_manager.preload_model_ids).")
    var preloadModels: String?

    @Option(help: "Idle time in ms before a model is unloaded (model_manager.ttl_ms).")
    var ttlMs: Int?

    @Option(help: "Most resident models (model_manager.resident_cap).")
    var residentCap: Int?

    @Option(help: "Most concurrent model loads (model_manager.max_parallel_loads).")
    var maxParallelLoads: Int?

    /// The flags as configuration overrides.
    var overrides: [(section: String, key: String, value: String?)] {
        [
            ("model_manager", "preload_model_ids", preloadModels), ("model_manager", "ttl_ms", ttlMs.map { "\($0)" }),
            ("model_manager", "resident_cap", residentCap.map { "\($0)" }),
            ("model_manager", "max_parallel_loads", maxParallelLoads.map { "\($0)" }),
        ]
    }
}
