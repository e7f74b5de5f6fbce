import DuplexCore

/// The complete Duplex configuration: one `Sendable` value built by ``ConfigurationLoader``
/// from `configs/duplex.yaml`, then `DUPLEX_SECTION_KEY` environment variables, then
/// command-line flags. Every key, default and valid range is documented in
/// `docs/CONFIGURATION.md`.
public struct DuplexConfiguration: Sendable, Hashable {
    /// HTTP/WebSocket listener of the orchestrator.
    public var server = ServerSection()
    /// Limits enforced on client input.
    public var limits = LimitsSection()
    /// The TTS worker (in-process or `duplex worker`).
    public var worker = WorkerSection()
    /// The worker's model manager (loading, residency, eviction).
    public var modelManager = ModelManagerSection()
    /// How the orchestrator reaches workers.
    public var orchestrator = OrchestratorSection()
    /// Output audio processing.
    public var audio = AudioSection()
    /// Log output.
    public var logging = LoggingSection()
    /// Voice activity detection (Silero).
    public var vad = VADSection()
    /// Speech recognition (Whisper).
    public var asr = ASRSection()
    /// End of turn (Smart Turn or fixed silence).
    public var turn = TurnSection()
    /// Microphone input processing (noise suppression, echo cancellation).
    public var input = InputSection()
    /// Turn-taking, barge-in and the reply source in conversation mode.
    public var conversation = ConversationSection()
    /// The OpenAI-compatible chat completions endpoint of the `llm` responder.
    public var llm = LLMSection()
    /// The Redis worker registry (scale-out).
    public var registry = RegistrySection()
    /// How the orchestrator picks a worker.
    public var routing = RoutingSection()
    /// The OpenAI-compatible audio API (`/v1/audio/*`, `/v1/realtime`).
    public var openai = OpenAISection()
    /// The Wyoming protocol server (Home Assistant), off by default.
    public var wyoming = WyomingSection()
    /// Authentication, access tokens and allowed browser origins.
    public var security = SecuritySection()
    /// Per-key limits: sessions, messages, audio and LLM tokens.
    public var quotas = QuotasSection()

    /// The defaults.
    public init() {}

    /// Sets one key, e.g. `("server", "port", "8081")`, validating its value.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) naming the key.
    public mutating func set(section: String, key: String, value: String) throws(DuplexError) {
        var field = ConfigField(section: section, key: key, value: value)
        switch section {
        case "server": try server.set(&field)
        case "limits": try limits.set(&field)
        case "worker": try worker.set(&field)
        case "model_manager":
            // The default model lives in `worker.default_model`; both names set it.
            if key == "default_model_id" { worker.defaultModel = value.trimmingWhitespace() } else { try modelManager.set(&field) }
        case "orchestrator": try orchestrator.set(&field)
        case "audio": try audio.set(&field)
        case "logging": try logging.set(&field)
        case "vad": try vad.set(&field)
        case "asr": try asr.set(&field)
        case "turn": try turn.set(&field)
        case "input": try input.set(&field)
        case "conversation": try conversation.set(&field)
        case "llm": try llm.set(&field)
        case "registry": try registry.set(&field)
        case "routing": try routing.set(&field)
        case "openai": try openai.set(&field)
        case "wyoming": try wyoming.set(&field)
        case "security": try security.set(&field)
        case "quotas": try quotas.set(&field)
        default: throw field.unknownSection()
        }
    }

    /// The section names, in documentation order.
    public static let sections = ["server", "limits", "worker", "model_manager", "orchestrator", "audio", "vad", "asr", "turn", "input", "conversation", "llm", "registry", "routing", "openai", "wyoming", "security", "quotas", "logging"]
}

/// `server:` — the orchestrator's HTTP and WebSocket listener.
public struct ServerSection: Sendable, Hashable {
    /// Address to bind. Default `127.0.0.1`.
    public var host = "127.0.0.1"
    /// Port to bind (0 picks a free port). Default 8080.
    public var port = 8080
    /// Folder of the browser client served at `/`. Default `web`.
    public var webDir = "web"
    /// TLS on the HTTP/WebSocket port: `off`, `files` (``tlsCert`` and ``tlsKey``) or
    /// `self-signed` (made and cached in ``tlsDir``). Setting `tls_cert` selects `files`.
    /// Default `off`.
    public var tls = TLSMode.off
    /// PEM certificate chain for `tls: files`. Default empty.
    public var tlsCert = ""
    /// PEM private key for `tls: files`. Default empty.
    public var tlsKey = ""
    /// Where `tls: self-signed` keeps its certificate. Default `.duplex/tls`.
    public var tlsDir = ".duplex/tls"
    /// With TLS on, also listen on this plain-HTTP port and redirect every request to
    /// HTTPS (0: off). Default 0.
    public var httpRedirectPort = 0

    /// How the port is secured.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// Plain HTTP and WebSocket.
        case off
        /// HTTPS and WSS with the certificate in `tls_cert` / `tls_key`.
        case files
        /// HTTPS and WSS with a generated, cached self-signed certificate (LAN demos).
        case selfSigned = "self-signed"
    }

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "host": host = try f.nonEmpty()
        case "port": port = try f.int(0...65535)
        case "web_dir": webDir = try f.nonEmpty()
        case "tls":
            let value = f.value.trimmingWhitespace().lowercased()
            // YAML reads an unquoted `off` as false.
            guard let mode = ["false", "no"].contains(value) ? .off : TLSMode(rawValue: value) else {
                throw f.invalid("'\(f.value)' is not one of off, files, self-signed")
            }
            tls = mode
        case "tls_cert":
            tlsCert = f.value.trimmingWhitespace()
            if !tlsCert.isEmpty, tls == .off { tls = .files }
        case "tls_key": tlsKey = f.value.trimmingWhitespace()
        case "tls_dir": tlsDir = try f.nonEmpty()
        case "http_redirect_port": httpRedirectPort = try f.int(0...65535)
        default: throw f.unknownKey()
        }
    }

    /// Checks the TLS keys that only make sense together.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) naming the key.
    public func validate() throws(DuplexError) {
        if tls == .files, tlsCert.isEmpty || tlsKey.isEmpty {
            throw DuplexError(.invalidConfiguration, "server.tls: files needs both server.tls_cert and server.tls_key (PEM files).")
        }
        if httpRedirectPort != 0, tls == .off {
            throw DuplexError(.invalidConfiguration, "server.http_redirect_port redirects to HTTPS, so it needs server.tls (files or self-signed).")
        }
    }

    /// Whether `host` is a loopback address or name.
    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased()
        return h == "localhost" || h == "::1" || h == "[::1]" || h.hasPrefix("127.")
    }
}

/// `limits:` — what a client may send.
public struct LimitsSection: Sendable, Hashable {
    /// Largest accepted WebSocket message in bytes. Default 1 MiB.
    public var maxMessageBytes = 1 << 20
    /// Most characters in one `text` message. Default 4000.
    public var maxTextChars = 4000
    /// Most characters in one reply (all its `text` pieces). Default 20000.
    public var maxReplyChars = 20000
    /// Most concurrent WebSocket sessions. Default 64.
    public var maxSessions = 64
    /// Replies queued behind the current one before `text` is refused. Default 8.
    public var maxQueuedReplies = 8

    /// The defaults.
    public init() {}

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "max_message_bytes": maxMessageBytes = try f.int(1024...(64 << 20))
        case "max_text_chars": maxTextChars = try f.int(1...100_000)
        case "max_reply_chars": maxReplyChars = try f.int(1...1_000_000)
        case "max_sessions": maxSessions = try f.int(1...10_000)
        case "max_queued_replies": maxQueuedReplies = try f.int(1...1000)
        default: throw f.unknownKey()
        }
    }
}

/// `worker:` — a TTS worker.
public struct WorkerSection: Sendable, Hashable {
    /// Name reported in capabilities and logs. Default `worker`.
    public var name = "worker"
    /// gRPC bind address of `duplex worker`. Default `127.0.0.1`.
    public var host = "127.0.0.1"
    /// gRPC port of `duplex worker` (0 picks a free port). Default 7001.
    public var port = 7001
    /// Adapter families to enable. Default `piper, espeak, sine`.
    public var adapters = ["piper", "espeak", "sine"]
    /// Folder scanned for voice packs. Default `voicepacks`.
    public var voicepacksDir = "voicepacks"
    /// Model used when a session names none; empty picks the best installed voice. Default empty.
    public var defaultModel = ""
    /// Frames sent ahead of real time at the start of a reply. Default 60 ms.
    public var pacingLeadMs = 60
    /// Most concurrent sessions on this worker; 0 (`auto`, the default) derives it from the
    /// default voice's real-time factor measured at warmup (see docs/PERFORMANCE.md).
    public var maxSessions = 0
    /// Inference threads shared by all calls (the cores given to inference). Default 2.
    public var inferenceThreads = 2
    /// How many threads each inference call gets: `adaptive` (all of them when a call runs
    /// alone, one each when several are ready), `wide` (always all: one call at a time) or
    /// `narrow` (always one). Default `adaptive`.
    public var inferenceWidth = "adaptive"
    /// Folder for prepared (sherpa-ready) copies of voices. Default `cache`.
    public var cacheDir = "cache"
    /// ONNX execution provider for neural adapters (`cpu`, `cuda`, …). Default `cpu`.
    public var executionProvider = "cpu"
    /// Text segments synthesized ahead of playback (a memory bound). Default 2.
    public var synthesisAhead = 2
    /// Inference for a segment whose audio is due later than this waits, keeping the cores
    /// free for replies that need audio now. Default 1500 ms.
    public var synthesisAheadMs = 1500
    /// A later segment's inference is due this long before the listener's audio runs out.
    /// Default 200 ms.
    public var synthesisMarginMs = 200
    /// A new session is refused with `OVERLOADED` when the predicted wait for its first audio
    /// exceeds this (so the router picks another worker). 0 disables. Default 400 ms.
    public var firstAudioTargetMs = 400
    /// Share the inference threads fairly between tenants (the clients' API keys, from the
    /// `duplex-tenant` metadata): among clauses already due, the key with the fewest calls
    /// running goes first. False: earliest deadline first only. Default true.
    public var fairTenants = true
    /// PEM certificate chain of `duplex worker`'s gRPC port: TLS on when set (with
    /// ``tlsKey``). Default empty (plaintext).
    public var tlsCert = ""
    /// PEM private key of ``tlsCert``. Default empty.
    public var tlsKey = ""
    /// PEM CA bundle: with it, only callers presenting a client certificate it signed are
    /// served (mutual TLS). Default empty (no client certificate asked for).
    public var tlsClientCA = ""

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "tls_cert": tlsCert = f.value.trimmingWhitespace()
        case "tls_key": tlsKey = f.value.trimmingWhitespace()
        case "tls_client_ca": tlsClientCA = f.value.trimmingWhitespace()
        case "name": name = try f.nonEmpty()
        case "host": host = try f.nonEmpty()
        case "port": port = try f.int(0...65535)
        case "adapters": adapters = try f.list(allowed: ["piper", "espeak", "sine"])
        case "voicepacks_dir": voicepacksDir = try f.nonEmpty()
        case "default_model": defaultModel = f.value
        case "pacing_lead_ms": pacingLeadMs = try f.int(0...1000)
        case "max_sessions": maxSessions = f.value.trimmingWhitespace().lowercased() == "auto" ? 0 : try f.int(0...10_000)
        case "inference_threads": inferenceThreads = try f.int(1...64)
        case "inference_concurrency": _ = try f.int(1...64)  // superseded by inference_width; old configs still load
        case "inference_width": inferenceWidth = try f.oneOf(["adaptive", "wide", "narrow"])
        case "cache_dir": cacheDir = try f.nonEmpty()
        case "execution_provider": executionProvider = try f.oneOf(["cpu", "cuda", "coreml", "directml"])
        case "synthesis_ahead": synthesisAhead = try f.int(1...16)
        case "synthesis_ahead_ms": synthesisAheadMs = try f.int(100...60_000)
        case "fair_tenants": fairTenants = try f.bool()
        case "synthesis_margin_ms": synthesisMarginMs = try f.int(0...5000)
        case "first_audio_target_ms": firstAudioTargetMs = try f.int(0...60_000)
        default: throw f.unknownKey()
        }
    }
}

/// `model_manager:` — how a worker loads, keeps and evicts models.
public struct ModelManagerSection: Sendable, Hashable {
    /// Models loaded (and warmed) after the default one at start. Default none.
    public var preloadModelIDs: [String] = []
    /// Idle time after which a model is unloaded, in ms. Default 600000.
    public var ttlMs = 600_000
    /// A model stays at least this long after loading, in ms. Default 120000.
    public var minResidencyMs = 120_000
    /// How often the evictor looks for idle models, in ms. Default 30000.
    public var evictCheckIntervalMs = 30_000
    /// Most resident models. Default 3.
    public var residentCap = 3
    /// Most loads running at once. Default 1.
    public var maxParallelLoads = 1
    /// Whether the default model is exempt from eviction. Default true.
    public var keepDefault = true
    /// Whether each load is followed by a hidden warmup synthesis. Default true.
    public var warmup = true
    /// The warmup phrase. Default "Hello, this is a warmup."
    public var warmupText = "Hello, this is a warmup."

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "preload_model_ids": preloadModelIDs = try f.list(allowed: nil)
        case "ttl_ms": ttlMs = try f.int(1000...86_400_000)
        case "min_residency_ms": minResidencyMs = try f.int(0...86_400_000)
        case "evict_check_interval_ms": evictCheckIntervalMs = try f.int(100...3_600_000)
        case "resident_cap": residentCap = try f.int(1...1000)
        case "max_parallel_loads": maxParallelLoads = try f.int(1...64)
        case "keep_default": keepDefault = try f.bool()
        case "warmup": warmup = try f.bool()
        case "warmup_text": warmupText = try f.nonEmpty()
        default: throw f.unknownKey()
        }
    }
}

/// `orchestrator:` — how the orchestrator reaches workers.
public struct OrchestratorSection: Sendable, Hashable {
    /// Worker addresses (`grpc://host:port`). Empty runs an in-process worker. Default empty.
    public var workers: [String] = []
    /// Timeout for unary worker calls in milliseconds. Default 5000.
    public var workerTimeoutMs = 5000
    /// Every remote worker is probed (`GetCapabilities`) this often; one that fails is skipped
    /// until it answers again. Default 2000.
    public var healthCheckMs = 2000
    /// PEM CA bundle that signed the workers' certificates: worker links use TLS when set
    /// (the worker's certificate must name the host of its address). Default empty (plaintext).
    public var tlsCA = ""
    /// PEM client certificate presented to workers that require one (mutual TLS). Default empty.
    public var tlsCert = ""
    /// PEM private key of ``tlsCert``. Default empty.
    public var tlsKey = ""

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "tls_ca": tlsCA = f.value.trimmingWhitespace()
        case "tls_cert": tlsCert = f.value.trimmingWhitespace()
        case "tls_key": tlsKey = f.value.trimmingWhitespace()
        case "workers":
            workers = try f.list(allowed: nil)
            for address in workers where (try? WorkerAddress(parsing: address)) == nil {
                throw f.invalid("'\(address)' is not a worker address like grpc://127.0.0.1:7001")
            }
        case "worker_timeout_ms": workerTimeoutMs = try f.int(100...600_000)
        case "health_check_ms": healthCheckMs = try f.int(100...600_000)
        default: throw f.unknownKey()
        }
    }
}

/// `audio:` — output audio processing.
public struct AudioSection: Sendable, Hashable {
    /// Loudness normalization: `lufs`, `rms` or `off`. Default `lufs`.
    public var normalization = "lufs"
    /// Target level: LUFS for `lufs`, dBFS for `rms`. Default −16.
    public var targetLevel = -16.0

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "normalization": normalization = try f.oneOf(["lufs", "rms", "off"])
        case "target_level": targetLevel = try f.double(-60...0)
        default: throw f.unknownKey()
        }
    }
}

/// `vad:` — Silero voice activity detection on 16 kHz input.
public struct VADSection: Sendable, Hashable {
    /// The Silero ONNX model. Default `.deps/models/silero_vad.onnx`.
    public var model = ".deps/models/silero_vad.onnx"
    /// Aggressiveness 0–3: a preset of threshold and durations (see docs). Default 2.
    public var aggressiveness = 2
    /// Speech probability threshold; 0 uses the aggressiveness preset. Default 0.
    public var threshold = 0.0
    /// Shortest speech kept, in ms; 0 uses the preset. Default 0.
    public var minSpeechMs = 0
    /// Silence that ends speech, in ms; 0 uses the preset. Default 0.
    public var minSilenceMs = 0

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "model": model = try f.nonEmpty()
        case "aggressiveness": aggressiveness = try f.int(0...3)
        case "threshold": threshold = try f.double(0...0.99)
        case "min_speech_ms": minSpeechMs = try f.int(0...5000)
        case "min_silence_ms": minSilenceMs = try f.int(0...10_000)
        default: throw f.unknownKey()
        }
    }
}

/// `asr:` — Whisper speech recognition.
public struct ASRSection: Sendable, Hashable {
    /// Folder with `encoder*.onnx`, `decoder*.onnx` and `tokens.txt` (sherpa's Whisper layout).
    /// Default `.deps/models/whisper-tiny.en`.
    public var modelDir = ".deps/models/whisper-tiny.en"
    /// Language hint for multilingual models (`en`, `de`, …); empty detects it. Default empty.
    public var language = ""
    /// Threads per decode. Default 2.
    public var threads = 2

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "model_dir": modelDir = try f.nonEmpty()
        case "language": language = f.value.trimmingWhitespace().lowercased()
        case "threads": threads = try f.int(1...64)
        default: throw f.unknownKey()
        }
    }
}

/// `turn:` — when the user's turn ends (conversation mode).
///
/// With a model, a pause of `probe_ms` asks it whether the turn sounds complete: yes (≥
/// `threshold`) ends the turn at once, no keeps listening until it says yes at a later pause
/// or `max_silence_ms` of silence pass. `model: none` ends turns after the VAD's fixed
/// silence (`vad.min_silence_ms` or the aggressiveness preset).
public struct TurnSection: Sendable, Hashable {
    /// `smart-turn` (Smart Turn v3.2) or `none` (fixed silence). Default `smart-turn`.
    public var model = "smart-turn"
    /// The Smart Turn ONNX file. Default `.deps/models/smart-turn/smart-turn-v3.2-cpu.onnx`.
    public var modelPath = ".deps/models/smart-turn/smart-turn-v3.2-cpu.onnx"
    /// Silence (ms) after which the model is asked. Default 200.
    public var probeMs = 200
    /// Probability at or above which the turn is complete. Default 0.5.
    public var threshold = 0.5
    /// Silence (ms) that ends a turn whatever the model says. Default 2500.
    public var maxSilenceMs = 2500
    /// A pause the model called incomplete is judged again every this-many ms of silence (a
    /// complete turn it misjudged ends sooner than `max_silence_ms`); 0 never. Default 1000.
    public var reprobeMs = 1000
    /// What a missing or broken model file does at start: `fail` (refuse to start, naming
    /// `turn.model`) or `fixed_silence` (warn and end turns on silence). Default `fail`.
    public var onModelError = "fail"
    /// onnxruntime threads per call. Default 1.
    public var threads = 1
    /// Live partial transcripts while the user speaks: the growing turn is re-decoded at most
    /// this often (ms); 0 turns them off. Default 400.
    public var partialIntervalMs = 400
    /// The partial decode hears at most the last this-many ms of the turn. Default 6000.
    public var partialWindowMs = 6000

    /// Whether a model decides (not fixed silence).
    public var usesModel: Bool { model != "none" }

    public init() {}

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "model": model = try f.oneOf(["smart-turn", "none"])
        case "model_path": modelPath = try f.nonEmpty()
        case "probe_ms": probeMs = try f.int(64...2000)
        case "threshold": threshold = try f.double(0.01...0.99)
        case "max_silence_ms": maxSilenceMs = try f.int(100...20_000)
        case "reprobe_ms": reprobeMs = try f.int(0...20_000)
        case "on_model_error": onModelError = try f.oneOf(["fail", "fixed_silence"])
        case "threads": threads = try f.int(1...16)
        case "partial_interval_ms":
            let value = try f.int(0...10_000)
            guard value == 0 || value >= 200 else { throw f.invalid("\(value) must be 0 (off) or at least 200") }
            partialIntervalMs = value
        case "partial_window_ms": partialWindowMs = try f.int(1000...28_000)
        default: throw f.unknownKey()
        }
    }
}

/// `input:` — processing of the microphone before VAD and ASR (conversation mode).
public struct InputSection: Sendable, Hashable {
    /// Noise suppression: `none`, `deepfilternet` (DeepFilterNet3) or `rnnoise`. Default `none`.
    public var denoise = "none"
    /// Server-side echo cancellation against the reply audio the server sent: `none` or
    /// `speex`, for clients that play replies on a loudspeaker without their own echo
    /// cancellation. Default `none`.
    public var echoCancel = "none"
    /// The echo canceller's tail (ms of echo path it models). Default 300.
    public var echoTailMs = 300
    /// Folder of the noise-suppression libraries. Default `.deps/models/denoise`.
    public var denoiseDir = ".deps/models/denoise"

    public init() {}

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "denoise": denoise = try f.oneOf(["none", "deepfilternet", "rnnoise"])
        case "echo_cancel": echoCancel = try f.oneOf(["none", "speex"])
        case "echo_tail_ms": echoTailMs = try f.int(40...1000)
        case "denoise_dir": denoiseDir = try f.nonEmpty()
        default: throw f.unknownKey()
        }
    }
}

/// `conversation:` — turn-taking and barge-in in conversation mode.
public struct ConversationSection: Sendable, Hashable {
    /// Where replies come from: `echo` (speaks back what was heard; works offline) or `llm`
    /// (streaming chat completions, see `llm:`). Default `echo`.
    public var responder = "echo"
    /// User speech over a reply must last this long (ms) to stop it; shorter sounds only pause
    /// it and it resumes. Default 300.
    public var minInterruptionMs = 300
    /// Speech probability the barge-in detector needs while a reply plays: stricter than
    /// `vad.threshold`, so the reply leaking into the microphone does not interrupt it. Default 0.6.
    public var speakingThreshold = 0.6
    /// Speech this long (ms) over a reply pauses it at once (the barge-in edge). Default 64.
    public var bargeInMinSpeechMs = 64
    /// Speech over a reply shorter than this (ms) but at least `min_interruption_ms` keeps the
    /// reply paused until its transcript is known: a backchannel ("yeah") resumes it, anything
    /// else stops it. Longer speech stops it at once. Default 800.
    public var backchannelMaxMs = 800
    /// Utterances that neither start a reply nor stop one (compared lower case, letters only).
    public var backchannels = ["uh huh", "uhhuh", "mhm", "mm hmm", "yeah", "yes", "right", "okay", "ok", "hmm"]
    /// Most history messages (user + assistant) sent to the LLM; older ones are dropped. Default 20.
    public var maxHistoryMessages = 20

    /// The defaults.
    public init() {}

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "responder": responder = try f.oneOf(["echo", "llm"])
        case "min_interruption_ms": minInterruptionMs = try f.int(0...5000)
        case "speaking_threshold": speakingThreshold = try f.double(0.01...0.99)
        case "barge_in_min_speech_ms": bargeInMinSpeechMs = try f.int(32...1000)
        case "backchannel_max_ms": backchannelMaxMs = try f.int(0...5000)
        case "backchannels": backchannels = try f.list(allowed: nil).map { $0.lowercased() }
        case "max_history_messages": maxHistoryMessages = try f.int(0...1000)
        default: throw f.unknownKey()
        }
    }
}

/// `llm:` — the OpenAI-compatible endpoint of the `llm` responder.
public struct LLMSection: Sendable, Hashable {
    /// Base URL; `/chat/completions` is appended. Default `http://127.0.0.1:8000/v1`.
    public var baseURL = "http://127.0.0.1:8000/v1"
    /// Model name sent in the request. Default `gpt-4o-mini`.
    public var model = "gpt-4o-mini"
    /// Environment variable holding the API key (sent as a bearer token when set). Default `OPENAI_API_KEY`.
    public var apiKeyEnv = "OPENAI_API_KEY"
    /// The system prompt.
    public var systemPrompt = "You are a friendly voice assistant. Answer in one to three short spoken sentences, without lists, markdown or emoji."
    /// Sampling temperature. Default 0.7.
    public var temperature = 0.7
    /// Most tokens per reply. Default 300.
    public var maxTokens = 300
    /// Time allowed for the first token and for the whole reply, ms. Default 30000.
    public var timeoutMs = 30_000

    /// The defaults.
    public init() {}

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "base_url": baseURL = try f.nonEmpty()
        case "model": model = try f.nonEmpty()
        case "api_key_env": apiKeyEnv = f.value.trimmingWhitespace()
        case "system_prompt": systemPrompt = f.value
        case "temperature": temperature = try f.double(0...2)
        case "max_tokens": maxTokens = try f.int(1...32_000)
        case "timeout_ms": timeoutMs = try f.int(100...600_000)
        default: throw f.unknownKey()
        }
    }
}

/// `openai:` — the OpenAI-compatible audio API (speech, transcriptions, voices, Realtime).
public struct OpenAISection: Sendable, Hashable {
    /// OpenAI voice names (`alloy`, `nova`, …) mapped to Duplex model ids, e.g.
    /// `alloy=piper-en-us-joe, nova=espeak-en-us`. A known OpenAI voice not listed here speaks
    /// with the default model; a Duplex model id is always accepted as a voice. Default empty.
    public var voiceMap: [String: String] = [:]
    /// Most characters in a `/v1/audio/speech` input. Default 4096 (OpenAI's limit).
    public var maxInputChars = 4096
    /// Largest `/v1/audio/transcriptions` upload in bytes (413 above it). Default 25 MiB (OpenAI's limit).
    public var maxUploadBytes = 25 << 20
    /// Longest audio a transcription decodes, seconds. Default 3600.
    public var maxAudioSeconds = 3600

    /// OpenAI's built-in voice names (they map to the default model unless `voice_map` says otherwise).
    public static let openAIVoices: Set<String> = [
        "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar",
    ]

    /// The defaults.
    public init() {}

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "voice_map":
            var map: [String: String] = [:]
            for item in try f.list(allowed: nil) {
                let parts = item.split(separator: "=", maxSplits: 1).map { String($0).trimmingWhitespace() }
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw f.invalid("'\(item)' is not voice=model (e.g. alloy=piper-en-us-joe)")
                }
                map[parts[0]] = parts[1]
            }
            voiceMap = map
        case "max_input_chars": maxInputChars = try f.int(1...100_000)
        case "max_upload_bytes": maxUploadBytes = try f.int(1024...(1 << 30))
        case "max_audio_seconds": maxAudioSeconds = try f.int(1...86_400)
        default: throw f.unknownKey()
        }
    }
}

/// `registry:` — workers announce themselves in Redis; orchestrators route among them.
public struct RegistrySection: Sendable, Hashable {
    /// `redis://[:password@]host[:port][/db]`; empty turns the registry off (static
    /// `orchestrator.workers` instead). Default empty.
    public var redisURL = ""
    /// Key prefix: entries are `<prefix>:worker:<name>`, announcements on `<prefix>:workers`. Default `duplex`.
    public var keyPrefix = "duplex"
    /// Worker heartbeat, ms. Default 10000.
    public var heartbeatMs = 10_000
    /// Entry lifetime without a heartbeat (a crashed worker disappears after it), ms. Default 30000.
    public var ttlMs = 30_000
    /// Orchestrator full rescan (safety net beside pub/sub), ms. Default 15000.
    public var rescanMs = 15_000
    /// The address other hosts reach this worker at (`grpc://host:port`); empty uses
    /// `worker.host`/`worker.port`. Default empty.
    public var advertiseAddress = ""

    /// The defaults.
    public init() {}

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "redis_url": redisURL = f.value.trimmingWhitespace()
        case "key_prefix": keyPrefix = try f.nonEmpty()
        case "heartbeat_ms": heartbeatMs = try f.int(100...600_000)
        case "ttl_ms": ttlMs = try f.int(300...3_600_000)
        case "rescan_ms": rescanMs = try f.int(100...3_600_000)
        case "advertise_address": advertiseAddress = f.value.trimmingWhitespace()
        default: throw f.unknownKey()
        }
    }
}

/// `routing:` — how the orchestrator picks a worker for a session (docs/ROUTING.md).
public struct RoutingSection: Sendable, Hashable {
    /// `least_loaded`, `lowest_latency`, `round_robin` or `random`. Default `least_loaded`.
    public var strategy = "least_loaded"
    /// Capabilities every chosen worker must have (e.g. `cpu_ok`). Default none.
    public var requiredCapabilities: [String] = []
    /// Ask the best worker to load a requested model that is resident nowhere. Default true.
    public var loadOnDemand = true

    /// The defaults.
    public init() {}

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "strategy": strategy = try f.oneOf(["least_loaded", "lowest_latency", "round_robin", "random"])
        case "required_capabilities": requiredCapabilities = try f.list(allowed: nil)
        case "load_on_demand": loadOnDemand = try f.bool()
        default: throw f.unknownKey()
        }
    }
}

/// `logging:` — log output.
public struct LoggingSection: Sendable, Hashable {
    /// Minimum level: trace, debug, info, notice, warning, error, critical. Default `info`.
    public var level = "info"
    /// `json`, `text`, or `auto` (text on a terminal, JSON otherwise). Default `auto`.
    public var format = "auto"

    mutating func set(_ f: inout ConfigField) throws(DuplexError) {
        switch f.key {
        case "level": level = try f.oneOf(["trace", "debug", "info", "notice", "warning", "error", "critical"])
        case "format": format = try f.oneOf(["auto", "json", "text"])
        default: throw f.unknownKey()
        }
    }
}

/// A `grpc://host:port` worker address.
public struct WorkerAddress: Sendable, Hashable, CustomStringConvertible {
    /// Host name or IP.
    public var host: String
    /// Port.
    public var port: Int

    /// Creates an address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `grpc://host:port` (the scheme may be omitted).
    public init(parsing text: String) throws(DuplexError) {
        var rest = Substring(text)
        if rest.hasPrefix("grpc://") { rest = rest.dropFirst(7) }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
            (1...65535).contains(port), colon > rest.startIndex
        else {
            throw DuplexError(.invalidConfiguration, "'\(text)' is not a worker address like grpc://127.0.0.1:7001.")
        }
        self.host = String(rest[..<colon])
        self.port = port
    }

    public var description: String { "grpc://\(host):\(port)" }
}

/// One key being set, with helpers that parse and validate its value.
struct ConfigField {
    var section: String
    var key: String
    var value: String

    var name: String { "\(section).\(key)" }

    func invalid(_ why: String) -> DuplexError {
        DuplexError(.invalidConfiguration, "Invalid value for \(name): \(why).")
    }
    func unknownKey() -> DuplexError {
        DuplexError(.invalidConfiguration, "Unknown configuration key \(name); see docs/CONFIGURATION.md.")
    }
    func unknownSection() -> DuplexError {
        DuplexError(.invalidConfiguration,
            "Unknown configuration section '\(section)'; valid sections: \(DuplexConfiguration.sections.joined(separator: ", ")).")
    }
    func nonEmpty() throws(DuplexError) -> String {
        let v = value.trimmingWhitespace()
        guard !v.isEmpty else { throw invalid("must not be empty") }
        return v
    }
    func int(_ range: ClosedRange<Int>) throws(DuplexError) -> Int {
        guard let v = Int(value.trimmingWhitespace()) else { throw invalid("'\(value)' is not an integer") }
        guard range.contains(v) else { throw invalid("\(v) is outside \(range.lowerBound)…\(range.upperBound)") }
        return v
    }
    func double(_ range: ClosedRange<Double>) throws(DuplexError) -> Double {
        guard let v = Double(value.trimmingWhitespace()) else { throw invalid("'\(value)' is not a number") }
        guard range.contains(v) else { throw invalid("\(v) is outside \(range.lowerBound)…\(range.upperBound)") }
        return v
    }
    func bool() throws(DuplexError) -> Bool {
        switch value.trimmingWhitespace().lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw invalid("'\(value)' is not true or false")
        }
    }
    func oneOf(_ allowed: [String]) throws(DuplexError) -> String {
        let v = value.trimmingWhitespace().lowercased()
        guard allowed.contains(v) else { throw invalid("'\(value)' is not one of \(allowed.joined(separator: ", "))") }
        return v
    }
    func list(allowed: Set<String>?) throws(DuplexError) -> [String] {
        let items = value.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
        if let allowed {
            for item in items where !allowed.contains(item) {
                throw invalid("'\(item)' is not one of \(allowed.sorted().joined(separator: ", "))")
            }
        }
        return items
    }
}

extension ConversationSection {
    /// Checks the settings that only make sense together.
    /// - Throws: ``DuplexError`` (`invalidConfiguration`) naming the key.
    public func validate() throws(DuplexError) {
        if backchannelMaxMs > 0, backchannelMaxMs <= minInterruptionMs {
            throw DuplexError(
                .invalidConfiguration,
                "conversation.backchannel_max_ms (\(backchannelMaxMs)) must be greater than conversation.min_interruption_ms (\(minInterruptionMs)), or 0 to turn backchannels off.")
        }
        if let bad = backchannels.first(where: { !$0.contains(where: \.isLetter) }) {
            throw DuplexError(.invalidConfiguration, "conversation.backchannels: '\(bad)' has no words; list words such as 'okay' or 'mhm'.")
        }
    }
}
