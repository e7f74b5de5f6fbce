import DuplexCore

/// A session's conversation history, bounded to the most recent messages.
struct ConversationHistory: Sendable {
    private(set) var messages: [HistoryMessage] = []
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    mutating func append(_ message: HistoryMessage) {
        messages.append(message)
        if messages.count > limit { messages.removeFirst(messages.count - limit) }
    }

    /// Replaces the text of the latest assistant message (the reply was interrupted: only
    /// what the user heard stays); removes it when nothing was heard.
    mutating func truncateLastReply(to heard: String) {
        guard let index = messages.lastIndex(where: { $0.role == .assistant }) else { return }
        if heard.isEmpty { messages.remove(at: index) } else { messages[index].text = heard }
    }
}
