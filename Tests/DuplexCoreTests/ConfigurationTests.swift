import Foundation
import DuplexConfig
import DuplexCore
import Testing

@Suite struct ConfigurationTests {
    @Test func layersApplyInOrderYAMLThenEnvironmentThenFlags() throws {
        var config = DuplexConfiguration()
        try ConfigurationLoader.apply(yaml: "server:\n  port: 9000\n  host: 0.0.0.0\nworker:\n  adapters: [sine, espeak]\n", source: "test", to: &config)
        #expect(config.server.port == 9000)
        #expect(config.worker.adapters == ["sine", "espeak"])
        try ConfigurationLoader.apply(environment: ["DUPLEX_SERVER_PORT": "9100", "DUPLEX_LIMITS_MAX_TEXT_CHARS": "50", "HOME": "/x"], to: &config)
        #expect(config.server.port == 9100)
        #expect(config.limits.maxTextChars == 50)
        try config.set(section: "server", key: "port", value: "9200")
        #expect(config.server.port == 9200)
        #expect(config.server.host == "0.0.0.0")
    }

    @Test func modelManagerSectionParsesAndValidates() throws {
        var config = DuplexConfiguration()
        try ConfigurationLoader.apply(
            yaml: "model_manager:\n  default_model_id: piper-en-us-joe\n  preload_model_ids: [espeak-en-us]\n  ttl_ms: 5000\n  warmup: false\n",
            source: "test", to: &config)
        #expect(config.worker.defaultModel == "piper-en-us-joe")
        #expect(config.modelManager.preloadModelIDs == ["espeak-en-us"])
        #expect(config.modelManager.ttlMs == 5000)
        #expect(config.modelManager.warmup == false)
        try ConfigurationLoader.apply(environment: ["DUPLEX_MODEL_MANAGER_RESIDENT_CAP": "5"], to: &config)
        #expect(config.modelManager.residentCap == 5)
        #expect(throws: DuplexError.self) { try config.set(section: "model_manager", key: "warmup", value: "maybe") }
        #expect(throws: DuplexError.self) { try config.set(section: "model_manager", key: "resident_cap", value: "0") }
        #expect(throws: DuplexError.self) { try config.set(section: "vad", key: "aggressiveness", value: "4") }
    }

    @Test func invalidValuesFailWithTheKeyName() {
        var config = DuplexConfiguration()
        #expect {
            try config.set(section: "server", key: "port", value: "70000")
        } throws: { error in
            (error as? DuplexError)?.message.contains("server.port") == true
        }
        #expect {
            try ConfigurationLoader.apply(environment: ["DUPLEX_AUDIO_NORMALIZATION": "loud"], to: &config)
        } throws: { error in
            (error as? DuplexError)?.message.contains("audio.normalization") == true
        }
        #expect {
            try ConfigurationLoader.apply(yaml: "worker:\n  bogus_key: 1\n", source: "t", to: &config)
        } throws: { error in
            (error as? DuplexError)?.message.contains("worker.bogus_key") == true
        }
        #expect(throws: DuplexError.self) { try config.set(section: "orchestrator", key: "workers", value: "not-an-address") }
        #expect(throws: DuplexError.self) { try ConfigurationLoader.apply(yaml: "server: [1, 2", source: "t", to: &config) }
    }

    @Test func workerAddressesParse() throws {
        let address = try WorkerAddress(parsing: "grpc://127.0.0.1:7001")
        #expect(address.host == "127.0.0.1")
        #expect(address.port == 7001)
        #expect(throws: DuplexError.self) { try WorkerAddress(parsing: "grpc://host:0") }
    }

    @Test func shippedConfigFileIsValid() throws {
        let path = #filePath.replacingOccurrences(of: "Tests/DuplexCoreTests/ConfigurationTests.swift", with: "configs/duplex.yaml")
        let config = try ConfigurationLoader.load(file: path, environment: [:])
        #expect(config == DuplexConfiguration())
    }
}
