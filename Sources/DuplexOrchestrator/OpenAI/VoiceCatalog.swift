import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexProto
import Foundation
import Synchronization

/// The voices the worker pool offers, as the OpenAI routes see them, cached for a moment so
/// that a burst of `/v1/audio/speech` requests asks the worker once.
final class VoiceCatalog: Sendable {
    /// One voice (a Duplex model).
    struct Voice: Sendable, Equatable {
        var id: String
        var family: String
        var languages: [String]
        var displayName: String
        var isLoaded: Bool
    }

    /// The catalog at one moment.
    struct Listing: Sendable {
        var voices: [Voice]
        var defaultModelID: String
    }

    private let pool: WorkerPool
    private let settings: OpenAISection
    private let ttl: Duration
    private let cached = Mutex<(at: ContinuousClock.Instant, listing: Listing)?>(nil)

    init(pool: WorkerPool, settings: OpenAISection, ttl: Duration = .seconds(2)) {
        self.pool = pool
        self.settings = settings
        self.ttl = ttl
    }

    /// The current listing (from the cache when it is fresh).
    /// - Throws: ``DuplexError`` (`workerUnavailable`) when no worker answers.
    func listing() async throws(DuplexError) -> Listing {
        let now = ContinuousClock.now
        if let hit = cached.withLock({ $0 }), hit.at.duration(to: now) < ttl { return hit.listing }
        let worker = try pool.pick()
        let models = try await worker.call { client, options in
            try await client.listModels(Duplex_Tts_V1_ListModelsRequest(), options: options)
        }
        let capabilities = try? await worker.call { client, options in
            try await client.getCapabilities(Duplex_Tts_V1_GetCapabilitiesRequest(), options: options)
        }
        let voices = models.models.sorted { $0.modelID < $1.modelID }.map {
            Voice(
                id: $0.modelID, family: $0.family, languages: $0.languages,
                displayName: $0.metadata["display_name"] ?? $0.modelID, isLoaded: $0.isLoaded)
        }
        let listing = Listing(voices: voices, defaultModelID: capabilities?.residentModels.first ?? voices.first?.id ?? "")
        cached.withLock { $0 = (now, listing) }
        return listing
    }

    /// The model a request's `voice` (or, failing that, its `model`) names: a Duplex model
    /// id, an OpenAI voice in `openai.voice_map`, or another OpenAI voice (nil: the default
    /// model).
    /// - Throws: ``OpenAIError`` (400 `unknown_voice`) listing what is available.
    func resolve(voice: String, model: String) async throws(OpenAIError) -> String? {
        let listing: Listing
        do { listing = try await self.listing() } catch { throw OpenAIError(error) }
        let ids = Set(listing.voices.map(\.id))
        if ids.contains(voice) { return voice }
        if let mapped = settings.voiceMap[voice] {
            guard ids.contains(mapped) else {
                throw OpenAIError.invalid(
                    "openai.voice_map sends voice '\(voice)' to model '\(mapped)', which no worker has; installed: \(ids.sorted().joined(separator: ", ")).",
                    param: "voice", code: "unknown_voice")
            }
            return mapped
        }
        if OpenAISection.openAIVoices.contains(voice.lowercased()) { return ids.contains(model) ? model : nil }
        throw OpenAIError.invalid(
            "Unknown voice '\(voice)'. Use a Duplex model id (\(ids.sorted().joined(separator: ", "))) or an OpenAI voice name (\(OpenAISection.openAIVoices.sorted().joined(separator: ", "))).",
            param: "voice", code: "unknown_voice")
    }
}
