/// Language tag matching for routing: case-insensitive, `_` treated as `-`, equal primary subtags match.
enum LanguageTag {
    /// `en` ~ `en-us`, `en-US` ~ `en_us`, `en-gb` ~ `en-us`; `de` !~ `en`.
    static func matches(_ requested: String, _ offered: String) -> Bool {
        let primary = primarySubtag(requested)
        return !primary.isEmpty && primary == primarySubtag(offered)
    }

    static func primarySubtag(_ tag: String) -> Substring {
        let normalized = tag.lowercased()
        let end = normalized.firstIndex { $0 == "-" || $0 == "_" } ?? normalized.endIndex
        return normalized[..<end]
    }
}
