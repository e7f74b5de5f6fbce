// The JSON shapes of OpenAI's chat-completions API that the client sends and reads.

/// The request body of `POST /chat/completions`.
struct ChatCompletionsRequestBody: Encodable {
    var model: String
    var messages: [ChatMessage]
    var stream: Bool
    var temperature: Double?
    var maxTokens: Int?

    enum CodingKeys: String, CodingKey {
        case model, messages, stream, temperature
        case maxTokens = "max_tokens"
    }
}

/// One `data:` payload of a streamed reply (`object: chat.completion.chunk`). Only the fields
/// the client uses; servers add many more.
struct ChatCompletionChunk: Decodable {
    struct Choice: Decodable {
        struct Delta: Decodable {
            var role: String?
            var content: String?
        }
        var index: Int?
        var delta: Delta?
        var finishReason: String?

        enum CodingKeys: String, CodingKey {
            case index, delta
            case finishReason = "finish_reason"
        }
    }
    var choices: [Choice]?
    /// Some servers report a failure inside an otherwise successful stream.
    var error: OpenAIErrorBody.Detail?
}

/// OpenAI's error body: `{"error": {"message": "…", "type": "…", "code": …}}`.
struct OpenAIErrorBody: Decodable {
    struct Detail: Decodable {
        var message: String?
        var type: String?
    }
    var error: Detail
}
