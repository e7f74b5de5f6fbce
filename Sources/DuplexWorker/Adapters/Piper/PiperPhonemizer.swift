import DuplexCore
import DuplexEspeak
import Foundation

/// Turns text into the phoneme codepoints a Piper voice was trained on.
///
/// Piper voices were trained on espeak-ng IPA with punctuation kept: each clause's phonemes
/// are followed by its terminator (`,` `;` `:` followed by a space inside a sentence; `.`
/// `!` `?` ending it), language-switch flags such as `(en)` are removed, and the result is
/// decomposed (NFD) into single codepoints. Symbols the voice has no id for are dropped.
/// The Debian libespeak-ng does not report clause terminators, so the text is split into
/// clauses here, at the same punctuation.
public struct PiperPhonemizer: Sendable {
    /// The espeak-ng voice (e.g. `en-us`).
    public let voice: String
    private let known: Set<Int32>
    private let engine: EspeakEngine

    /// Creates a phonemizer for a voice's espeak language and phoneme inventory.
    public init(voice: String, knownCodepoints: Set<Int32>, engine: EspeakEngine = .shared) {
        self.voice = voice
        self.known = knownCodepoints
        self.engine = engine
    }

    /// One clause of text with the punctuation that ended it.
    struct Clause: Equatable {
        var text: String
        var terminator: Character?
        var endsSentence: Bool { terminator.map { ".!?".contains($0) } ?? false }
    }

    /// Phonemizes text into sentences of codepoints.
    public func phonemize(_ text: String) async throws(DuplexError) -> [[Int32]] {
        let clauses = Self.clauses(of: text)
        guard !clauses.isEmpty else { return [] }
        let phonemes = try await engine.phonemize(clauses: clauses.map(\.text), voice: voice)
        var sentences: [[Int32]] = []
        var current: [Int32] = []
        for (clause, ipa) in zip(clauses, phonemes) {
            var piece = Self.removeLanguageFlags(ipa)
            if let terminator = clause.terminator {
                piece.append(terminator)
                if !clause.endsSentence { piece.append(" ") }
            }
            for scalar in piece.decomposedStringWithCanonicalMapping.unicodeScalars {
                let codepoint = Int32(scalar.value)
                if known.contains(codepoint) { current.append(codepoint) }
            }
            if clause.endsSentence {
                Self.flush(&current, into: &sentences)
            }
        }
        Self.flush(&current, into: &sentences)
        return sentences
    }

    private static func flush(_ current: inout [Int32], into sentences: inout [[Int32]]) {
        // Trailing spaces carry no sound; a sentence of punctuation alone is dropped.
        while current.last == 32 { current.removeLast() }
        if current.contains(where: { !isPunctuationOrSpace($0) }) { sentences.append(current) }
        current = []
    }

    private static func isPunctuationOrSpace(_ codepoint: Int32) -> Bool {
        guard let scalar = Unicode.Scalar(UInt32(codepoint)) else { return true }
        return " ,.;:!?'\"-()".unicodeScalars.contains(scalar)
    }

    /// Splits text at clause punctuation (`, ; : . ! ?` followed by a space or the end).
    static func clauses(of text: String) -> [Clause] {
        var clauses: [Clause] = []
        var current = ""
        let characters = Array(text)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            let next = index + 1 < characters.count ? characters[index + 1] : nil
            if ",;:.!?".contains(character), next == nil || next!.isWhitespace || ",;:.!?".contains(next!) {
                // Collapse runs such as "?!" or "..." to their first mark.
                var end = index + 1
                while end < characters.count, ",;:.!?".contains(characters[end]) { end += 1 }
                let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !trimmed.isEmpty {
                    clauses.append(Clause(text: trimmed, terminator: character))
                } else if let last = clauses.last, !last.endsSentence, ".!?".contains(character) {
                    clauses[clauses.count - 1].terminator = character
                }
                current = ""
                index = end
                continue
            }
            current.append(character)
            index += 1
        }
        let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.isEmpty { clauses.append(Clause(text: trimmed, terminator: nil)) }
        return clauses
    }

    /// Removes espeak's language-switch markers such as `(en)` or `(fr)`.
    static func removeLanguageFlags(_ ipa: String) -> String {
        guard ipa.contains("(") else { return ipa }
        var out = ""
        var depth = 0
        for character in ipa {
            if character == "(" { depth += 1 } else if character == ")" { depth = max(0, depth - 1) } else if depth == 0 {
                out.append(character)
            }
        }
        return out
    }
}
