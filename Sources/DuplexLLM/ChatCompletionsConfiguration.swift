#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How to reach an OpenAI-compatible chat-completions server (the `llm` responder).
///
/// Works with OpenAI itself and with local servers that speak the same protocol
/// (llama.cpp `llama-server`, vLLM, Ollama's `/v1`, LM Studio).
///
/// ```swift
/// let configuration = ChatCompletionsConfiguration(
///     baseURL: "http://127.0.0.1:8080/v1",
///     model: "qwen2.5-1.5b-instruct",
///     apiKey: ChatCompletionsConfiguration.apiKey(fromEnvironment: "DUPLEX_LLM_API_KEY"),
///     systemPrompt: "You are a voice assistant. Answer in one or two short sentences.")
/// ```
public struct ChatCompletionsConfiguration: Sendable, Hashable {
    /// The API root including the version, e.g. `http://127.0.0.1:8080/v1` or
    /// `https://api.openai.com/v1`. Requests go to `{baseURL}/chat/completions`.
    public var baseURL: String
    /// The `model` field of each request.
    public var model: String
    /// Sent as `Authorization: Bearer …` when set. Never logged.
    public var apiKey: String?
    /// Prepended to every request as a `system` message when set and not empty.
    public var systemPrompt: String?
    /// Sampling temperature; the server's default when nil.
    public var temperature: Double?
    /// The `max_tokens` limit of a reply; the server's default when nil.
    public var maxTokens: Int?
    /// The longest a whole reply may take, from sending the request to the end of the stream.
    /// Default 60 s.
    public var requestTimeout: Duration
    /// The longest to wait, from sending the request, for the first content token. This is what
    /// bounds the silence a listener hears when the server is slow or stuck. Default 10 s.
    public var firstTokenTimeout: Duration
    /// The TCP/TLS connect timeout of the dedicated HTTP client made by
    /// ``ChatCompletionsClient/withClient(configuration:logger:_:)`` (not used with an injected
    /// client). Default 3 s.
    public var connectTimeout: Duration

    /// Creates a configuration; see the properties for the defaults.
    public init(
        baseURL: String = "http://127.0.0.1:8080/v1",
        model: String,
        apiKey: String? = nil,
        systemPrompt: String? = nil,
        temperature: Double? = nil,
        maxTokens: Int? = nil,
        requestTimeout: Duration = .seconds(60),
        firstTokenTimeout: Duration = .seconds(10),
        connectTimeout: Duration = .seconds(3)
    ) {
        self.baseURL = baseURL
        self.model = model
        self.apiKey = apiKey
        self.systemPrompt = systemPrompt
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.requestTimeout = requestTimeout
        self.firstTokenTimeout = firstTokenTimeout
        self.connectTimeout = connectTimeout
    }

    /// The value of the environment variable `name` with surrounding whitespace removed, or
    /// nil when it is unset or blank. Use it to keep API keys out of configuration files.
    public static func apiKey(
        fromEnvironment name: String,
        in environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        guard let value = environment[name]?.trimmedWhitespace(), !value.isEmpty else {
            return nil
        }
        return value
    }

    /// `{baseURL}/chat/completions`, without a doubled slash.
    public var chatCompletionsURL: String {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/chat/completions"
    }

    /// Checks the values and throws ``DuplexLLMError/Code/llmInvalidConfiguration`` naming the
    /// first bad one.
    public func validate() throws(DuplexLLMError) {
        let lowered = baseURL.lowercased()
        guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://"), baseURL.count > "https://".count else {
            throw invalid("baseURL '\(baseURL)' must start with http:// or https://, e.g. http://127.0.0.1:8080/v1")
        }
        guard !model.trimmedWhitespace().isEmpty else {
            throw invalid("model must not be empty; use the name the server serves (see GET {baseURL}/models)")
        }
        if let temperature, !(0...2).contains(temperature) {
            throw invalid("temperature \(temperature) is out of range 0...2")
        }
        if let maxTokens, maxTokens < 1 {
            throw invalid("maxTokens \(maxTokens) must be at least 1")
        }
        for (name, value) in [("requestTimeout", requestTimeout), ("firstTokenTimeout", firstTokenTimeout), ("connectTimeout", connectTimeout)]
        where value <= .zero {
            throw invalid("\(name) must be positive")
        }
    }

    private func invalid(_ message: String) -> DuplexLLMError {
        DuplexLLMError(.llmInvalidConfiguration, "Invalid LLM configuration: \(message).")
    }
}

extension ChatCompletionsConfiguration: CustomStringConvertible {
    /// A summary with the API key redacted.
    public var description: String {
        "ChatCompletionsConfiguration(baseURL: \(baseURL), model: \(model), apiKey: \(apiKey == nil ? "none" : "<redacted>"))"
    }
}
