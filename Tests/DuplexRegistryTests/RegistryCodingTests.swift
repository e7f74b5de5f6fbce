import DuplexRedis
import DuplexRegistry
import Foundation
import Testing

@Suite("Registry records, events and configuration")
struct RegistryCodingTests {
    @Test("a record encodes with snake_case keys and round-trips")
    func recordJSON() throws {
        var record = makeWorker("w1", resident: ["kokoro"], queueDepth: 2, activeSessions: 1, firstAudioMs: 180)
        record.hardware.gpu = "L4"
        record.updatedAt = 1_730_000_010_000
        let data = try JSONEncoder().encode(record)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == [
            "name", "address", "capabilities", "languages", "models", "resident_models", "hardware", "metrics",
            "version", "started_at", "updated_at", "ready",
        ])
        let hardware = try #require(object["hardware"] as? [String: Any])
        #expect(Set(hardware.keys) == ["cpu_cores", "gpu"])
        let metrics = try #require(object["metrics"] as? [String: Any])
        // `earliest_slack_ms` is absent when nothing waits.
        #expect(Set(metrics.keys) == ["active_sessions", "queue_depth", "rtf_p50", "first_audio_p50_ms", "predicted_first_audio_ms", "predicted_wait_ms", "busy_fraction"])
        #expect(try JSONDecoder().decode(WorkerRecord.self, from: data) == record)
    }

    @Test("decoding tolerates missing optional fields")
    func lenientDecoding() throws {
        let json = #"{"name":"w","address":"grpc://h:1","ready":true,"metrics":{"queue_depth":3}}"#
        let record = try JSONDecoder().decode(WorkerRecord.self, from: Data(json.utf8))
        #expect(record.name == "w")
        #expect(record.models.isEmpty)
        #expect(record.metrics.queueDepth == 3)
        #expect(record.metrics.firstAudioP50Ms == 0)
        #expect(record.hardware.gpu == nil)
        #expect(record.ready)
    }

    @Test("events use the documented JSON shape")
    func eventJSON() throws {
        let event = RegistryEvent(.down, name: "w1")
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(event)) as? [String: String])
        #expect(object == ["event": "down", "name": "w1"])
        let decoded = try JSONDecoder().decode(RegistryEvent.self, from: Data(#"{"event":"update","name":"x"}"#.utf8))
        #expect(decoded == RegistryEvent(.update, name: "x"))
    }

    @Test("keys, channel and defaults")
    func keys() throws {
        let config = RegistryConfiguration(redisURL: "redis://127.0.0.1:6379")
        #expect(config.keyPrefix == "duplex")
        #expect(config.heartbeatInterval == .seconds(10))
        #expect(config.ttl == .seconds(30))
        #expect(config.rescanInterval == .seconds(15))
        #expect(config.workerKey("w1") == "duplex:worker:w1")
        #expect(config.workerName(forKey: "duplex:worker:w1") == "w1")
        #expect(config.workerName(forKey: "other:worker:w1") == nil)
        #expect(config.workerKeyPattern == "duplex:worker:*")
        #expect(config.channel == "duplex:workers")
        #expect(config.ttlMilliseconds == 30_000)
        #expect(try config.validate().port == 6379)
        #expect(RegistryConfiguration(redisURL: "x", keyPrefix: "a*b").workerKeyPattern == #"a\*b:worker:*"#)
    }

    @Test("validation names the key at fault")
    func validation() {
        var config = RegistryConfiguration(redisURL: "redis://127.0.0.1:6379", ttl: .seconds(5))
        #expect(throws: RegistryError.self) { try config.validate() }
        do {
            try config.validate()
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains("registry.ttl_ms"))
        }
        config.ttl = .seconds(30)
        config.redisURL = "http://nope"
        do {
            try config.validate()
            Issue.record("expected an invalid URL to throw")
        } catch {
            #expect(error.message.contains("registry.redis_url"))
        }
        config.redisURL = "redis://127.0.0.1"
        config.keyPrefix = ""
        #expect(throws: RegistryError.self) { try config.validate() }
    }
}
