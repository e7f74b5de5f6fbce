import Foundation

/// Drops what Whisper typically "hears" in silence or noise.
public enum TranscriptFilter {
    /// Whole transcripts that are not speech (compared lower-cased, without punctuation).
    static let nonSpeech: Set<String> = [
        "", "you", "thank you", "thanks for watching", "thank you for watching", "bye", "uh", "um", "hmm", "mm",
        "blank audio", "music", "silence", "inaudible", "applause", "laughter",
    ]

    /// The transcript trimmed, or "" when it is not speech (empty, bracketed tags such as
    /// `[BLANK_AUDIO]`, or a typical silence hallucination).
    public static func clean(_ text: String) -> String {
        var kept = ""
        var depth = 0
        for character in text {
            if character == "[" || character == "(" { depth += 1 } else if character == "]" || character == ")" {
                depth = max(0, depth - 1)
            } else if depth == 0 {
                kept.append(character)
            }
        }
        let trimmed = kept.trimmingCharacters(in: .whitespacesAndNewlines)
        let bare = trimmed.lowercased().filter { $0.isLetter || $0 == " " }.trimmingCharacters(in: .whitespaces)
        return nonSpeech.contains(bare) ? "" : trimmed
    }
}
