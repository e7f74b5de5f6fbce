import DuplexLLM
import Testing

@Suite("ChatCompletionsConfiguration")
struct ChatCompletionsConfigurationTests {
    @Test("the API key comes from the environment, trimmed; blank or unset is nil")
    func apiKeyFromEnvironment() {
        let environment = ["KEY": "  sk-abc\n", "BLANK": "  "]
        #expect(ChatCompletionsConfiguration.apiKey(fromEnvironment: "KEY", in: environment) == "sk-abc")
        #expect(ChatCompletionsConfiguration.apiKey(fromEnvironment: "BLANK", in: environment) == nil)
        #expect(ChatCompletionsConfiguration.apiKey(fromEnvironment: "UNSET", in: environment) == nil)
    }

    @Test("the endpoint is {baseURL}/chat/completions", arguments: [
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1/chat/completions"),
        ("https://api.openai.com/v1/", "https://api.openai.com/v1/chat/completions"),
    ])
    func endpoint(_ base: String, _ expected: String) {
        #expect(ChatCompletionsConfiguration(baseURL: base, model: "m").chatCompletionsURL == expected)
    }

    @Test("invalid values are rejected with a message naming them")
    func validation() throws {
        let bad: [(ChatCompletionsConfiguration, String)] = [
            (ChatCompletionsConfiguration(baseURL: "ftp://x/v1", model: "m"), "baseURL"),
            (ChatCompletionsConfiguration(model: " "), "model"),
            (ChatCompletionsConfiguration(model: "m", temperature: 3), "temperature"),
            (ChatCompletionsConfiguration(model: "m", maxTokens: 0), "maxTokens"),
            (ChatCompletionsConfiguration(model: "m", firstTokenTimeout: .zero), "firstTokenTimeout"),
        ]
        for (configuration, name) in bad {
            do {
                _ = try ChatCompletionsClient(configuration: configuration)
                Issue.record("\(name) was accepted")
            } catch {
                #expect(error.code == .llmInvalidConfiguration)
                #expect(error.message.contains(name))
            }
        }
        try ChatCompletionsConfiguration(baseURL: "https://api.openai.com/v1", model: "gpt-4o-mini", temperature: 0.7, maxTokens: 200).validate()
    }

    @Test("the description never shows the API key")
    func redactedDescription() {
        let configuration = ChatCompletionsConfiguration(model: "m", apiKey: "sk-secret")
        #expect(!configuration.description.contains("sk-secret"))
        #expect(!"\(configuration)".contains("sk-secret"))
    }

    @Test("the system prompt is prepended to the history")
    func requestMessages() throws {
        let history: [ChatMessage] = [.user("hi"), .assistant("hello"), .user("bye")]
        let plain = try ChatCompletionsClient(configuration: ChatCompletionsConfiguration(model: "m"))
        #expect(plain.requestMessages(history: history) == history)
        let prompted = try ChatCompletionsClient(configuration: ChatCompletionsConfiguration(model: "m", systemPrompt: "Be brief."))
        #expect(prompted.requestMessages(history: history) == [.system("Be brief.")] + history)
    }
}
