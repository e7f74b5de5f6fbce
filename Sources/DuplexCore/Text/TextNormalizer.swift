/// Turns what users actually type into English words a phonemizer can speak.
///
/// Piper voices are phonemized by espeak-ng, which reads digits, symbols, URLs and emoji
/// poorly or not at all. ``normalize(_:)`` expands numbers, currency, percentages, times,
/// dates, common abbreviations and symbols into words; drops emoji, control characters and
/// stray markup; and bounds very long "words" so synthesis time stays bounded. Sentence
/// punctuation (`, . ! ? ; :`) is kept because the phonemizer uses it for prosody.
///
/// ```swift
/// let normalizer = TextNormalizer()
/// normalizer.normalize("Dr. Smith paid $3.50 at 10:05 pm 🎉")
/// // "doctor Smith paid three dollars and fifty cents at ten oh five pee em"
/// ```
///
/// The output is English-only and deliberately conservative: anything it does not
/// recognise is passed through as words or turned into a space, never into an error.
public struct TextNormalizer: Sendable {
    /// Words longer than this many characters are cut to this length, and digit strings
    /// longer than this are read only up to this many digits.
    public let maxWordLength: Int

    /// Creates a normalizer.
    ///
    /// - Parameter maxWordLength: The longest word passed on to the phonemizer; longer
    ///   "words" (hashes, keyboard mashing) are truncated. Values below 1 are treated as 1.
    public init(maxWordLength: Int = 40) {
        self.maxWordLength = max(1, maxWordLength)
    }

    /// Returns speakable text.
    ///
    /// Never throws; never returns text containing control characters. Whitespace runs are
    /// collapsed to single spaces and the result is trimmed, so empty or whitespace-only
    /// input (or input that is only emoji) returns `""`.
    public func normalize(_ text: String) -> String {
        var scanner = Scanner(
            characters: Self.clean(text, maxRunLength: maxWordLength), maxWordLength: maxWordLength)
        scanner.run()
        return scanner.output.text
    }
}

// MARK: - Cleaning pass (Unicode scalars)

extension TextNormalizer {
    /// Removes control and format characters, emoji and pictographs, maps typographic
    /// variants to ASCII, caps stacked combining marks and truncates long runs of letters
    /// (mixed with digits) to `maxRunLength`. Pure digit runs are bounded later, where they
    /// are read digit by digit.
    fileprivate static func clean(_ text: String, maxRunLength: Int) -> [Character] {
        var scalars = String.UnicodeScalarView()
        var marks = 0
        for scalar in text.unicodeScalars {
            let value = scalar.value
            let properties = scalar.properties
            switch properties.generalCategory {
            case .control:
                // Tab, line feed, vertical tab, form feed, carriage return, next line.
                if (0x09...0x0D).contains(value) || value == 0x85 { scalars.append(" ") }
                marks = 0
                continue
            case .format, .privateUse, .surrogate, .unassigned:
                // ZWJ, ZWSP, BOM, soft hyphen, bidi controls, emoji tag characters.
                continue
            case .lineSeparator, .paragraphSeparator, .spaceSeparator:
                scalars.append(" ")
                marks = 0
                continue
            case .nonspacingMark, .spacingMark, .enclosingMark:
                if (0xFE00...0xFE0F).contains(value) || (0xE0100...0xE01EF).contains(value) { continue }
                if value == 0x20E3 {
                    // Combining keycap: "1️⃣" is an emoji, not the digit one.
                    if let last = scalars.last, "0123456789#*".unicodeScalars.contains(last) {
                        scalars.removeLast()
                    }
                    continue
                }
                // "Zalgo" text stacks hundreds of marks on one letter; two are plenty.
                marks += 1
                if marks <= 2 { scalars.append(scalar) }
                continue
            default:
                marks = 0
            }
            if let mapped = scalarMap[value] {
                scalars.append(contentsOf: mapped.unicodeScalars)
            } else if isPictograph(scalar, properties) {
                continue
            } else if (0xFF01...0xFF5E).contains(value), let ascii = Unicode.Scalar(value - 0xFEE0) {
                scalars.append(ascii)  // full-width ASCII forms
            } else {
                scalars.append(scalar)
            }
        }

        var characters: [Character] = []
        characters.reserveCapacity(scalars.count)
        var runStart = 0
        var runHasLetter = false
        func endRun() {
            if runHasLetter, characters.count - runStart > maxRunLength {
                characters.removeSubrange((runStart + maxRunLength)...)
            }
            runStart = characters.count
            runHasLetter = false
        }
        for character in String(scalars) {
            if character.isLetter || character.isNumber {
                runHasLetter = runHasLetter || character.isLetter
                characters.append(character)
            } else {
                endRun()
                characters.append(character)
                runStart = characters.count
            }
        }
        endRun()
        return characters
    }

    private static func isPictograph(_ scalar: Unicode.Scalar, _ properties: Unicode.Scalar.Properties) -> Bool {
        let value = scalar.value
        if properties.isEmojiPresentation || properties.isEmojiModifier { return true }
        // Text-style emoji (©, ™, ❤, ☺, arrows…), but not "#", "*" or digits.
        if properties.isEmoji, value >= 0x203C || value == 0xA9 || value == 0xAE { return true }
        if (0x1F000...0x1FAFF).contains(value) { return true }
        // Dingbats, box drawing, shapes and other pictographic symbols; "°" is one too.
        return properties.generalCategory == .otherSymbol && value != 0xB0
    }

    /// Typographic characters mapped to the ASCII the scanner understands.
    private static let scalarMap: [UInt32: String] = [
        0x2018: "'", 0x2019: "'", 0x201A: "'", 0x201B: "'", 0x2032: "'", 0x02BC: "'",
        0x201C: "\"", 0x201D: "\"", 0x201E: "\"", 0x201F: "\"", 0x00AB: "\"", 0x00BB: "\"",
        0x2033: "\"", 0x2039: "\"", 0x203A: "\"",
        0x2010: "-", 0x2011: "-", 0x2212: "-", 0xFE63: "-", 0xFF0D: "-",
        0x2012: "–", 0x2013: "–", 0x2014: "—", 0x2015: "—",
        0x2026: "...", 0x3002: ". ", 0xFF61: ". ", 0x3001: ", ", 0xFF64: ", ",
        0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl",
        0x2103: "°C", 0x2109: "°F", 0x2116: "#",
    ]
}

// MARK: - Output

extension TextNormalizer {
    /// Collects words and punctuation: words are separated by one space, punctuation
    /// attaches to the word before it, and runs of punctuation collapse to one mark.
    fileprivate struct Output {
        private enum Last { case start, word, pause, stop }

        private(set) var text = ""
        private var last = Last.start
        /// Whether the last word emitted starts with a capital letter.
        private(set) var lastWordCapitalized = false
        /// Words emitted since the last sentence end.
        private(set) var wordsInSentence = 0

        mutating func word(_ word: some StringProtocol) {
            guard !word.isEmpty else { return }
            if !text.isEmpty { text.append(" ") }
            text.append(contentsOf: word)
            last = .word
            lastWordCapitalized = word.first?.isUppercase ?? false
            wordsInSentence += 1
        }

        /// A clause mark (`,` `;` `:`); dropped unless it follows a word.
        mutating func pause(_ mark: Character) {
            guard last == .word else { return }
            text.append(mark)
            last = .pause
        }

        /// A sentence end (`.` `!` `?` `...`); replaces a clause mark just before it.
        mutating func stop(_ mark: String) {
            switch last {
            case .word: break
            case .pause: text.removeLast()
            case .start, .stop: return
            }
            text.append(contentsOf: mark)
            last = .stop
            wordsInSentence = 0
        }
    }
}

// MARK: - Scanner

extension TextNormalizer {
    fileprivate struct Scanner {
        let chars: [Character]
        let n: Int
        let maxWordLength: Int
        var output = Output()

        init(characters: [Character], maxWordLength: Int) {
            self.chars = characters
            self.n = characters.count
            self.maxWordLength = maxWordLength
        }

        mutating func run() {
            var i = 0
            while i < n {
                let c = chars[i]
                if c.isWhitespace {
                    i += 1
                } else if isDigit(c) {
                    i = number(at: i)
                } else if c.isLetter {
                    i = word(at: i)
                } else {
                    i = symbol(at: i)
                }
            }
        }

        // MARK: Character helpers

        func char(_ index: Int) -> Character? { index >= 0 && index < n ? chars[index] : nil }
        func isDigit(_ c: Character?) -> Bool { c.map { $0.isASCII && $0.isWholeNumber } ?? false }
        func isAlnum(_ c: Character?) -> Bool { c.map { $0.isLetter || isDigit($0) } ?? false }
        func isLetter(_ c: Character?) -> Bool { c?.isLetter ?? false }

        func nextNonSpace(from index: Int) -> Int {
            var k = index
            while k < n, chars[k].isWhitespace { k += 1 }
            return k
        }

        func digitRunEnd(from index: Int) -> Int {
            var k = index
            while k < n, isDigit(chars[k]) { k += 1 }
            return k
        }

        /// Whether the characters at `index` spell `word` (ASCII, case-insensitive).
        func matches(_ word: String, at index: Int) -> Bool {
            var k = index
            for expected in word {
                guard k < n, chars[k].lowercased() == String(expected) else { return false }
                k += 1
            }
            return true
        }

        /// Whether the `.` at `dot` ending an abbreviation also ends the sentence.
        ///
        /// `titleLike` abbreviations ("Dr.", "e.g.") are always followed by something, so
        /// any following word means the period is part of the abbreviation.
        func keepsPeriod(dotAt dot: Int, titleLike: Bool) -> Bool {
            var k = dot + 1
            while k < n, Self.closers.contains(chars[k]) { k += 1 }
            guard k < n else { return true }
            guard chars[k].isWhitespace else { return false }  // "etc.," — the comma will do
            let m = nextNonSpace(from: k)
            guard m < n else { return true }
            let next = chars[m]
            if isDigit(next) || next.isLowercase { return false }
            if next.isUppercase { return !titleLike }
            return true
        }

        // MARK: Words

        mutating func word(at start: Int) -> Int {
            if let end = url(at: start) { return end }
            if let end = dottedLetters(at: start) { return end }
            var j = start
            while j < n {
                let c = chars[j]
                if c.isLetter {
                    j += 1
                } else if c == "'" || c == "-", isLetter(char(j + 1)) {
                    j += 1
                } else {
                    break
                }
            }
            let word = String(chars[start..<j])
            if char(j) == ".", !isAlnum(char(j + 1)), let end = dottedAbbreviation(word, dotAt: j) {
                return end
            }
            if let end = plainAbbreviation(word, endingAt: j) { return end }
            emitWord(word)
            return j
        }

        mutating func emitWord(_ word: String) {
            var word = word
            if word.count > maxWordLength { word = String(word.prefix(maxWordLength)) }
            // Long all-caps words are shouting, not acronyms: espeak would spell them.
            if word.count > 5, word.allSatisfy({ $0.isUppercase || $0 == "'" || $0 == "-" }) {
                word = word.lowercased()
            }
            output.word(word)
        }

        /// "e.g.", "i.e.", "a.m.", "U.S.A.": single letters separated by periods.
        mutating func dottedLetters(at start: Int) -> Int? {
            guard char(start + 1) == ".", isLetter(char(start + 2)), !isLetter(char(start + 3)) else { return nil }
            var letters: [Character] = []
            var k = start
            var endsWithDot = false
            while k < n, chars[k].isLetter, !isLetter(char(k + 1)) {
                letters.append(chars[k])
                k += 1
                if char(k) == "." {
                    k += 1
                    endsWithDot = true
                } else {
                    endsWithDot = false
                    break
                }
            }
            let key = String(letters).lowercased().map(String.init).joined(separator: ".")
            if let expansion = Self.dottedExpansions[key] {
                output.word(expansion)
            } else {
                output.word(letters.map { String($0).uppercased() }.joined(separator: " "))
            }
            guard endsWithDot else { return k }
            let titleLike = ["e.g", "i.e", "a.k.a"].contains(key)
            return keepsPeriod(dotAt: k - 1, titleLike: titleLike) ? k - 1 : k
        }

        /// "Dr.", "etc.", "St.", "No. 5" and single initials ("J. Smith").
        mutating func dottedAbbreviation(_ word: String, dotAt dot: Int) -> Int? {
            guard let entry = Self.abbreviations[word.lowercased()] else {
                // An initial before a name: "J. Smith" (but not "I." or "A.").
                if word.count == 1, let letter = word.first, letter.isUppercase, letter != "I", letter != "A",
                    char(dot + 1)?.isWhitespace == true, char(nextNonSpace(from: dot + 1))?.isUppercase == true
                {
                    output.word(word)
                    return dot + 1
                }
                return nil
            }
            if entry.capitalized, word.first?.isUppercase != true { return nil }
            switch entry.kind {
            case .title:
                output.word(entry.expansion)
                return keepsPeriod(dotAt: dot, titleLike: true) ? dot : dot + 1
            case .terminal:
                output.word(entry.expansion)
                return keepsPeriod(dotAt: dot, titleLike: false) ? dot : dot + 1
            case .number:
                let next = char(nextNonSpace(from: dot + 1))
                guard isDigit(next) || next == "#" else { return nil }
                output.word(entry.expansion)
                return dot + 1
            case .saint:
                // "St. Louis" but "Main St.": a capitalised word before it (not the first
                // word of a sentence) makes it a street.
                let afterStreetName = output.lastWordCapitalized && output.wordsInSentence >= 2
                if !afterStreetName, char(dot + 1)?.isWhitespace == true,
                    char(nextNonSpace(from: dot + 1))?.isUppercase == true
                {
                    output.word("saint")
                    return dot + 1
                }
                output.word("street")
                return keepsPeriod(dotAt: dot, titleLike: false) ? dot : dot + 1
            }
        }

        /// Abbreviations written without a period: "Mr Smith", "vs", "etc", "w/", "w/o".
        mutating func plainAbbreviation(_ word: String, endingAt end: Int) -> Int? {
            switch word {
            case "Mr", "Mrs", "Ms", "Dr":
                guard char(end) == " ", char(end + 1)?.isUppercase == true else { return nil }
                output.word(Self.abbreviations[word.lowercased()]?.expansion ?? word)
                return end
            case "vs":
                output.word("versus")
                return end
            case "etc":
                output.word("et cetera")
                return end
            case "w", "W":
                guard char(end) == "/" else { return nil }
                if char(end + 1) == "o" || char(end + 1) == "O", !isAlnum(char(end + 2)) {
                    output.word("without")
                    return end + 2
                }
                guard end + 1 == n || char(end + 1)?.isWhitespace == true else { return nil }
                output.word("with")
                return end + 1
            default:
                return nil
            }
        }

        // MARK: URLs

        /// Reads a URL as its host ("https://www.example.com/a?b" → "example dot com").
        /// Emails need no special case: "@" reads "at" and "." between words reads "dot".
        mutating func url(at start: Int) -> Int? {
            // Only at the start of a token, so each token is scanned once (no quadratic cost).
            if let prev = char(start - 1), !prev.isWhitespace, !Self.urlOpeners.contains(prev) { return nil }
            var end = start
            while end < n, !chars[end].isWhitespace, !Self.urlStoppers.contains(chars[end]) { end += 1 }
            while end > start, Self.urlTrailers.contains(chars[end - 1]) { end -= 1 }
            guard end - start >= 4 else { return nil }

            var hostStart: Int
            if let separator = schemeSeparator(from: start, to: end) {
                hostStart = separator + 3
            } else if matches("www.", at: start) {
                hostStart = start
            } else if let slash = chars[start..<end].firstIndex(of: "/"), looksLikeDomain(start..<slash) {
                hostStart = start
            } else {
                return nil
            }
            var hostEnd = hostStart
            while hostEnd < end, !"/?#".contains(chars[hostEnd]) { hostEnd += 1 }
            if let at = chars[hostStart..<hostEnd].lastIndex(of: "@") { hostStart = at + 1 }
            if let colon = chars[hostStart..<hostEnd].firstIndex(of: ":") { hostEnd = colon }

            var labels = chars[hostStart..<hostEnd].split(separator: ".")
            if labels.count > 1, String(labels[0]).lowercased() == "www" { labels.removeFirst() }
            for (index, label) in labels.enumerated() {
                if index > 0 { output.word("dot") }
                emitHostLabel(label)
            }
            return end
        }

        func schemeSeparator(from start: Int, to end: Int) -> Int? {
            var k = start
            while k < end, k - start <= 10, chars[k].isASCII, chars[k].isLetter { k += 1 }
            guard k > start, k + 2 < end, chars[k] == ":", chars[k + 1] == "/", chars[k + 2] == "/" else { return nil }
            return k
        }

        /// "example.com" or "docs.swift.org": dotted labels ending in a 2–6 letter TLD.
        func looksLikeDomain(_ range: Range<Int>) -> Bool {
            let labels = chars[range].split(separator: ".", omittingEmptySubsequences: false)
            guard labels.count >= 2, let tld = labels.last, (2...6).contains(tld.count),
                tld.allSatisfy({ $0.isASCII && $0.isLetter })
            else { return false }
            return labels.allSatisfy { label in
                !label.isEmpty && label.allSatisfy { $0.isLetter || isDigit($0) || $0 == "-" }
            }
        }

        mutating func emitHostLabel(_ label: ArraySlice<Character>) {
            var k = label.startIndex
            while k < label.endIndex {
                var e = k
                if isDigit(label[k]) {
                    while e < label.endIndex, isDigit(label[e]) { e += 1 }
                    let digits = label[k..<e]
                    output.word(
                        digits.count <= 3 && digits.first != "0"
                            ? NumberWords.cardinal(NumberWords.value(digits))
                            : NumberWords.digits(digits.prefix(maxWordLength)))
                } else if label[k].isLetter {
                    while e < label.endIndex, label[e].isLetter { e += 1 }
                    emitWord(String(label[k..<e]))
                } else {
                    e += 1
                }
                k = e
            }
        }

        // MARK: Symbols and punctuation

        mutating func symbol(at i: Int) -> Int {
            let c = chars[i]
            let prev = char(i - 1)
            let next = char(i + 1)
            if let currency = Currency.symbols[c] {
                if isDigit(next) || (next == "." && isDigit(char(i + 2))) {
                    return number(at: i + 1, currency: currency)
                }
                if next == "-", isDigit(char(i + 2)) {
                    return number(at: i + 2, negative: true, currency: currency)
                }
                if Currency.symbols[prev ?? " "] == nil, Currency.symbols[next ?? " "] == nil {
                    output.word(currency.plural)
                }
                return i + 1
            }
            if let fraction = Self.vulgarFractions[c] {
                output.word(fraction.alone)
                return i + 1
            }
            switch c {
            case ".":
                if isDigit(next), !isAlnum(prev) { return number(at: i) }
                var j = i
                while j < n, chars[j] == "." { j += 1 }
                if j - i >= 2 {
                    output.stop("...")
                } else if let prev, let next, isAlnum(prev), isAlnum(next) {
                    // "end.Next" is a missing space; "example.com" and "file.txt" are read.
                    if prev.isLowercase, next.isUppercase { output.stop(".") } else { output.word("dot") }
                } else {
                    output.stop(".")
                }
                return j
            case ",", ";", ":":
                output.pause(c)
            case "!", "?":
                output.stop(String(c))
            case "-":
                return hyphen(at: i)
            case "–":
                if isDigit(previousNonSpace(before: i)), isDigit(char(nextNonSpace(from: i + 1))) {
                    output.word("to")
                } else {
                    output.pause(",")
                }
            case "—":
                output.pause(",")
            case "(":
                output.pause(",")
            case ")":
                if isAlnum(char(nextNonSpace(from: i + 1))) { output.pause(",") }
            case "&":
                for (entity, replacement) in Self.entities where matches(entity, at: i) {
                    output.word(replacement)
                    return i + entity.count
                }
                output.word("and")
                return runEnd(of: c, from: i)
            case "@":
                output.word("at")
                return runEnd(of: c, from: i)
            case "+":
                let end = runEnd(of: c, from: i)
                if end - i <= 2 { for _ in i..<end { output.word("plus") } }
                return end
            case "=":
                let end = runEnd(of: c, from: i)
                if end - i <= 2 { output.word("equals") }
                return end
            case "#":
                if isDigit(next) {
                    output.word("number")
                    return number(at: i + 1, hashed: true)
                }
            case "~":
                if isDigit(next) { output.word("about") }
            case "²", "³":
                if isAlnum(prev) { output.word(c == "²" ? "squared" : "cubed") }
            default:
                if let word = Self.symbolWords[c] { output.word(word) }
            // Everything else (quotes, brackets, markdown, stray symbols) is a word break.
            }
            return i + 1
        }

        func runEnd(of c: Character, from i: Int) -> Int {
            var j = i
            while j < n, chars[j] == c { j += 1 }
            return j
        }

        func previousNonSpace(before index: Int) -> Character? {
            var k = index - 1
            while k >= 0, chars[k].isWhitespace { k -= 1 }
            return char(k)
        }

        mutating func hyphen(at i: Int) -> Int {
            let end = runEnd(of: "-", from: i)
            guard end - i == 1 else {
                output.pause(",")  // "--" and "---" are dashes
                return end
            }
            let prev = char(i - 1)
            let next = char(i + 1)
            if isDigit(next) || (next == "." && isDigit(char(i + 2))) {
                if isDigit(prev) {
                    output.word("to")  // "10-20"; dates and phone numbers were read before
                    return end
                }
                if !isAlnum(prev) { return number(at: i + 1, negative: true) }
                return end  // "COVID-19"
            }
            if let next, let currency = Currency.symbols[next], isDigit(char(i + 2)), !isAlnum(prev) {
                return number(at: i + 2, negative: true, currency: currency)
            }
            if prev?.isWhitespace ?? true, next?.isWhitespace ?? true {
                // "5 - 3" is arithmetic; otherwise a spaced hyphen is a dash.
                if isDigit(previousNonSpace(before: i)), isDigit(char(nextNonSpace(from: i + 1))) {
                    output.word("minus")
                } else {
                    output.pause(",")
                }
            }
            return end
        }

        // MARK: Numbers

        /// Reads a number starting at `start` (a digit, or a "." before a digit) together
        /// with what qualifies it: thousands separators, decimals, times, dates, ranges,
        /// ordinal suffixes, currency, percent, degrees, units and am/pm.
        mutating func number(
            at start: Int, negative: Bool = false, currency: Currency? = nil, hashed: Bool = false
        ) -> Int {
            var j = digitRunEnd(from: start)
            var whole = Array(chars[start..<j])
            let sign = negative ? "minus " : ""
            if whole.count > NumberWords.maxDigits {
                output.word(sign + NumberWords.digits(whole.prefix(maxWordLength)))
                if let currency { output.word(currency.plural) }
                return j
            }

            var grouped = false
            if (1...3).contains(whole.count), whole[0] != "0" {
                while j + 3 < n, chars[j] == ",", isDigit(chars[j + 1]), isDigit(chars[j + 2]), isDigit(chars[j + 3]),
                    !isDigit(char(j + 4))
                {
                    whole.append(contentsOf: chars[(j + 1)...(j + 3)])
                    j += 4
                    grouped = true
                }
                if whole.count > NumberWords.maxDigits {
                    output.word(sign + NumberWords.digits(whole.prefix(maxWordLength)))
                    if let currency { output.word(currency.plural) }
                    return j
                }
            }
            let plain = !grouped && !negative && currency == nil && !whole.isEmpty

            if plain, char(j) == ":", isDigit(char(j + 1)) {
                if let end = time(hours: whole, colonAt: j) { return end }
                output.word(NumberWords.spoken(whole, nil, maxDigits: maxWordLength))
                output.word("to")  // a ratio: "16:9"
                return j + 1
            }

            var fraction: [Character]? = nil
            if char(j) == ".", isDigit(char(j + 1)) {
                let k = digitRunEnd(from: j + 1)
                if plain, char(k) == ".", isDigit(char(k + 1)) { return dottedGroups(from: start) }
                fraction = Array(chars[(j + 1)..<k])
                j = k
            }

            if plain, fraction == nil, whole.count <= 4 {
                if char(j) == "/", isDigit(char(j + 1)), let end = slashed(first: whole, slashAt: j) { return end }
                if char(j) == "-", isDigit(char(j + 1)), let end = hyphenated(first: whole, hyphenAt: j) { return end }
            }

            let amount = NumberWords.spoken(whole, fraction, maxDigits: maxWordLength)
            let integer = NumberWords.value(whole)
            let isOne = fraction == nil && whole == ["1"]

            if let currency {
                let scale = self.scale(at: j)
                output.word(sign + currency.amount(whole, fraction, scale: scale?.word, maxDigits: maxWordLength))
                return scale?.end ?? j
            }

            // Ordinals: "1st", "22nd", "100th".
            if fraction == nil, !negative, !whole.isEmpty, let a = char(j), let b = char(j + 1),
                ["st", "nd", "rd", "th"].contains(String([a, b]).lowercased()), !isLetter(char(j + 2))
            {
                output.word(NumberWords.ordinal(NumberWords.cardinal(integer)))
                return j + 2
            }

            // Clock times without minutes: "5pm", "7 a.m.", and British "5.30pm".
            if !negative, (1...12).contains(integer), whole.count <= 2, let meridiem = meridiem(at: j) {
                if let fraction {
                    guard fraction.count == 2, NumberWords.value(fraction) < 60 else {
                        output.word(amount)
                        return j
                    }
                    output.word(
                        NumberWords.clock(hours: Int(integer), minutes: Int(NumberWords.value(fraction)), meridiem: meridiem.word))
                } else {
                    output.word(NumberWords.clock(hours: Int(integer), minutes: 0, meridiem: meridiem.word))
                }
                return meridiem.end
            }

            var k = j
            if char(k) == " " { k += 1 }
            switch char(k) {
            case "%":
                output.word(sign + amount + " percent")
                return k + 1
            case "°":
                var words = sign + amount + (isOne ? " degree" : " degrees")
                var end = k + 1
                if let scale = char(end), let name = ["C": "Celsius", "F": "Fahrenheit"][scale], !isLetter(char(end + 1)) {
                    words += " " + name
                    end += 1
                }
                output.word(words)
                return end
            case "¢":
                output.word(sign + amount + (isOne ? " cent" : " cents"))
                return k + 1
            default:
                if let symbol = char(k), let suffix = Currency.symbols[symbol], !isDigit(char(k + 1)) {
                    output.word(sign + suffix.amount(whole, fraction, scale: nil, maxDigits: maxWordLength))
                    return k + 1
                }
            }

            if let unit = unit(at: j) {
                output.word(sign + amount + " " + (isOne ? unit.singular : unit.plural))
                return unit.end
            }

            if let vulgar = char(j).flatMap({ Self.vulgarFractions[$0] }) {
                output.word(sign + amount + " and " + vulgar.attached)
                return j + 1
            }

            let bare = !hashed && (start == 0 || !isAlnum(chars[start - 1]))
            let year = plain && bare && fraction == nil && whole.count == 4 ? NumberWords.year(Int(integer)) : nil

            // Dimensions and multipliers: "1920x1080", "2x".
            if char(j) == "x", !isLetter(char(j + 1)) {
                output.word(sign + amount)
                output.word(isDigit(char(j + 1)) ? "by" : "times")
                return j + 1
            }

            // Plurals and decades: "1990s", "the '80s", "three 5's".
            if fraction == nil, !whole.isEmpty {
                var end: Int? = nil
                if char(j) == "s", !isLetter(char(j + 1)) { end = j + 1 }
                if char(j) == "'", char(j + 1) == "s", !isLetter(char(j + 2)) { end = j + 2 }
                if let end {
                    output.word(sign + NumberWords.plural(year ?? amount))
                    return end
                }
            }

            output.word(sign + (year ?? amount))
            return j
        }

        /// "3:30", "10:05 pm", "1:30:45". Returns nil if the digits are not a valid time.
        mutating func time(hours: [Character], colonAt colon: Int) -> Int? {
            guard hours.count <= 2, isDigit(char(colon + 2)), !isDigit(char(colon + 3)) else { return nil }
            let h = Int(NumberWords.value(hours))
            let m = Int(NumberWords.value(chars[(colon + 1)...(colon + 2)]))
            guard h <= 24, m <= 59 else { return nil }
            var end = colon + 3
            var seconds: Int? = nil
            if char(end) == ":", isDigit(char(end + 1)), isDigit(char(end + 2)), !isDigit(char(end + 3)) {
                let s = Int(NumberWords.value(chars[(end + 1)...(end + 2)]))
                if s <= 59 {
                    seconds = s
                    end += 3
                }
            }
            if h <= 12, let meridiem = meridiem(at: end) {
                output.word(NumberWords.clock(hours: h, minutes: m, meridiem: meridiem.word))
                return meridiem.end
            }
            if let seconds {
                output.word(NumberWords.duration(hours: h, minutes: m, seconds: seconds))
            } else {
                output.word(NumberWords.clock(hours: h, minutes: m, meridiem: nil))
            }
            return end
        }

        /// "am", "PM", "a.m.", " p.m" after a time, read "ay em" / "pee em".
        func meridiem(at index: Int) -> (word: String, end: Int)? {
            var k = index
            if char(k) == " " { k += 1 }
            guard let first = char(k)?.lowercased(), first == "a" || first == "p" else { return nil }
            var m = k + 1
            let dotted = char(m) == "."
            if dotted { m += 1 }
            guard char(m)?.lowercased() == "m" else { return nil }
            m += 1
            let word = first == "a" ? "ay em" : "pee em"
            if dotted, char(m) == "." {
                return (word, keepsPeriod(dotAt: m, titleLike: false) ? m : m + 1)
            }
            guard !isAlnum(char(m)) else { return nil }
            return (word, m)
        }

        /// Version numbers and IP addresses: "1.2.3", "192.168.0.1".
        mutating func dottedGroups(from start: Int) -> Int {
            var groups: [ArraySlice<Character>] = []
            var k = start
            repeat {
                let e = digitRunEnd(from: k)
                groups.append(chars[k..<e])
                k = e + 1
            } while char(k - 1) == "." && isDigit(char(k))
            let end = k - 1
            if groups.count == 4, groups.allSatisfy({ $0.count <= 3 }) {
                output.word(groups.map { NumberWords.digits($0) }.joined(separator: " dot "))
            } else {
                output.word(
                    groups.map { NumberWords.spoken(Array($0), nil, maxDigits: maxWordLength) }
                        .joined(separator: " point "))
            }
            return end
        }

        /// "3/4", "24/7", "12/25/2024". Returns nil to read the first number on its own.
        mutating func slashed(first: [Character], slashAt slash: Int) -> Int? {
            let secondEnd = digitRunEnd(from: slash + 1)
            let second = chars[(slash + 1)..<secondEnd]
            guard second.count <= 4, !isLetter(char(secondEnd)) else { return nil }
            let a = Int(NumberWords.value(first))
            let b = Int(NumberWords.value(second))
            if char(secondEnd) == "/", isDigit(char(secondEnd + 1)) {
                let thirdEnd = digitRunEnd(from: secondEnd + 1)
                let third = chars[(secondEnd + 1)..<thirdEnd]
                guard third.count == 2 || third.count == 4, !isLetter(char(thirdEnd)) else { return nil }
                let date =
                    NumberWords.date(month: a, day: b, year: third) ?? NumberWords.date(month: b, day: a, year: third)
                guard let date else { return nil }
                output.word(date)
                return thirdEnd
            }
            output.word(NumberWords.fraction(a, b))
            return secondEnd
        }

        /// "2024-01-15", "555-123-4567", "555-1234". Returns nil for a range ("10-20").
        mutating func hyphenated(first: [Character], hyphenAt hyphen: Int) -> Int? {
            var groups: [ArraySlice<Character>] = [first[...]]
            var k = hyphen
            while char(k) == "-", isDigit(char(k + 1)) {
                let e = digitRunEnd(from: k + 1)
                groups.append(chars[(k + 1)..<e])
                k = e
            }
            guard !isLetter(char(k)) else { return nil }
            let isPhone = groups.count == 2 && groups[0].count == 3 && groups[1].count == 4
            guard groups.count >= 3 || isPhone else { return nil }
            if groups.count == 3, groups[0].count == 4, groups[1].count <= 2, groups[2].count <= 2,
                let date = NumberWords.date(
                    month: Int(NumberWords.value(groups[1])), day: Int(NumberWords.value(groups[2])), year: groups[0])
            {
                output.word(date)
                return k
            }
            for (index, group) in groups.enumerated() {
                if index > 0 { output.pause(",") }
                output.word(NumberWords.digits(group.prefix(maxWordLength)))
            }
            return k
        }

        /// "$5M", "$2.5bn", "$3 million" after a currency amount.
        func scale(at index: Int) -> (word: String, end: Int)? {
            var e = index
            while e < n, chars[e].isLetter { e += 1 }
            if e > index {
                return Self.scaleAbbreviations[String(chars[index..<e])].map { ($0, e) }
            }
            guard char(index) == " " else { return nil }
            e = index + 1
            while e < n, chars[e].isLetter { e += 1 }
            let word = String(chars[(index + 1)..<e]).lowercased()
            return ["thousand", "million", "billion", "trillion"].contains(word) ? (word, e) : nil
        }

        /// "5km", "10 GB", "60 mph", "3 min".
        func unit(at index: Int) -> (singular: String, plural: String, end: Int)? {
            var k = index
            let spaced = char(k) == " "
            if spaced { k += 1 }
            var e = k
            while e < n, e - k <= 5, chars[e].isLetter || (chars[e] == "/" && isLetter(char(e + 1))) { e += 1 }
            guard e > k, !isLetter(char(e)), let unit = Self.units[String(chars[k..<e])] else { return nil }
            guard !spaced || unit.spaced else { return nil }
            return (unit.singular, unit.plural, e)
        }

        // MARK: Tables

        enum AbbreviationKind { case title, terminal, number, saint }

        struct Abbreviation {
            let expansion: String
            let kind: AbbreviationKind
            /// Only expanded when written with a capital ("Co." but not "co.").
            let capitalized: Bool
        }

        static let abbreviations: [String: Abbreviation] = {
            var table: [String: Abbreviation] = [:]
            for (key, value) in ["mr": "mister", "mrs": "missus", "dr": "doctor"] {
                table[key] = Abbreviation(expansion: value, kind: .title, capitalized: false)
            }
            let titles = [
                "ms": "miz", "prof": "professor", "mt": "mount", "capt": "captain", "lt": "lieutenant", "sgt": "sergeant", "gen": "general",
                "gov": "governor", "rev": "reverend", "sen": "senator",
            ]
            for (key, value) in titles { table[key] = Abbreviation(expansion: value, kind: .title, capitalized: true) }
            for (key, value) in ["vs": "versus", "cf": "compare", "approx": "approximately", "fig": "figure"] {
                table[key] = Abbreviation(expansion: value, kind: .title, capitalized: false)
            }
            let terminals = [
                "jr": "junior", "sr": "senior", "inc": "incorporated", "ltd": "limited", "corp": "corporation",
                "co": "company", "dept": "department", "ave": "avenue", "blvd": "boulevard",
            ]
            for (key, value) in terminals {
                table[key] = Abbreviation(expansion: value, kind: .terminal, capitalized: true)
            }
            table["etc"] = Abbreviation(expansion: "et cetera", kind: .terminal, capitalized: false)
            table["no"] = Abbreviation(expansion: "number", kind: .number, capitalized: false)
            table["st"] = Abbreviation(expansion: "saint", kind: .saint, capitalized: true)
            return table
        }()

        static let dottedExpansions: [String: String] = [
            "e.g": "for example", "i.e": "that is", "a.m": "ay em", "p.m": "pee em", "a.k.a": "also known as",
        ]

        static let scaleAbbreviations: [String: String] = [
            "k": "thousand", "K": "thousand", "m": "million", "M": "million", "mm": "million", "MM": "million",
            "mn": "million", "b": "billion", "B": "billion", "bn": "billion", "t": "trillion", "T": "trillion",
            "tn": "trillion",
        ]

        struct Unit {
            let singular: String
            let plural: String
            /// Also recognised after a space ("5 km"); short ambiguous ones only attached.
            let spaced: Bool
        }

        static let units: [String: Unit] = {
            var table: [String: Unit] = [:]
            func add(_ keys: [String], _ singular: String, _ plural: String, spaced: Bool = true) {
                for key in keys { table[key] = Unit(singular: singular, plural: plural, spaced: spaced) }
            }
            add(["km"], "kilometer", "kilometers")
            add(["cm"], "centimeter", "centimeters")
            add(["mm"], "millimeter", "millimeters")
            add(["kg"], "kilogram", "kilograms")
            add(["mg"], "milligram", "milligrams")
            add(["lb", "lbs"], "pound", "pounds")
            add(["oz"], "ounce", "ounces")
            add(["ft"], "foot", "feet")
            add(["mi"], "mile", "miles", spaced: false)
            add(["mph"], "mile per hour", "miles per hour")
            add(["km/h", "kph", "kmh"], "kilometer per hour", "kilometers per hour")
            add(["m/s"], "meter per second", "meters per second")
            add(["ml", "mL"], "milliliter", "milliliters")
            add(["KB", "kB"], "kilobyte", "kilobytes")
            add(["MB"], "megabyte", "megabytes")
            add(["GB"], "gigabyte", "gigabytes")
            add(["TB"], "terabyte", "terabytes")
            add(["Hz"], "hertz", "hertz")
            add(["kHz"], "kilohertz", "kilohertz")
            add(["MHz"], "megahertz", "megahertz")
            add(["GHz"], "gigahertz", "gigahertz")
            add(["ms"], "millisecond", "milliseconds")
            add(["sec", "secs"], "second", "seconds")
            add(["min", "mins"], "minute", "minutes")
            add(["hr", "hrs"], "hour", "hours")
            add(["h"], "hour", "hours", spaced: false)
            add(["yr", "yrs"], "year", "years")
            add(["kW"], "kilowatt", "kilowatts")
            return table
        }()

        static let vulgarFractions: [Character: (alone: String, attached: String)] = [
            "½": ("one half", "a half"), "⅓": ("one third", "a third"), "⅔": ("two thirds", "two thirds"),
            "¼": ("one quarter", "a quarter"), "¾": ("three quarters", "three quarters"),
            "⅕": ("one fifth", "a fifth"), "⅛": ("one eighth", "an eighth"),
        ]

        static let symbolWords: [Character: String] = [
            "%": "percent", "°": "degrees", "×": "times", "÷": "divided by", "±": "plus or minus",
            "≈": "approximately", "≠": "not equal to", "§": "section",
        ]

        static let entities: [(String, String)] = [
            ("&amp;", "and"), ("&nbsp;", ""), ("&quot;", ""), ("&apos;", ""), ("&#39;", ""), ("&lt;", ""),
            ("&gt;", ""),
        ]

        /// Characters that may close a sentence after its period: `"Stop." Then…`
        static let closers: Set<Character> = ["\"", "'", ")", "]", "}"]
        static let urlStoppers: Set<Character> = ["\"", "<", ">", "(", ")", "[", "]", "{", "}", "|", "\\", "^", "`"]
        static let urlOpeners: Set<Character> = ["\"", "'", "(", "<", "[", "{"]
        static let urlTrailers: Set<Character> = [".", ",", "!", "?", ";", ":", "'"]
    }
}

// MARK: - Currency

extension TextNormalizer {
    fileprivate struct Currency: Sendable {
        let singular: String
        let plural: String
        let subunit: (singular: String, plural: String)?

        static let symbols: [Character: Currency] = [
            "$": Currency(singular: "dollar", plural: "dollars", subunit: ("cent", "cents")),
            "€": Currency(singular: "euro", plural: "euros", subunit: ("cent", "cents")),
            "£": Currency(singular: "pound", plural: "pounds", subunit: ("penny", "pence")),
            "¥": Currency(singular: "yen", plural: "yen", subunit: nil),
            "₹": Currency(singular: "rupee", plural: "rupees", subunit: ("paisa", "paise")),
            "₩": Currency(singular: "won", plural: "won", subunit: nil),
            "₽": Currency(singular: "ruble", plural: "rubles", subunit: ("kopek", "kopeks")),
            "₿": Currency(singular: "bitcoin", plural: "bitcoins", subunit: nil),
        ]

        /// "three dollars and fifty cents", "fifty cents", "two point five million dollars".
        func amount(_ whole: [Character], _ fraction: [Character]?, scale: String?, maxDigits: Int) -> String {
            let spoken = NumberWords.spoken(whole, fraction, maxDigits: maxDigits)
            if let scale { return spoken + " " + scale + " " + plural }
            let main = NumberWords.value(whole)
            guard let fraction else { return spoken + " " + (whole == ["1"] ? singular : plural) }
            guard let subunit, fraction.count <= 2 else { return spoken + " " + plural }
            let cents = NumberWords.value(fraction) * (fraction.count == 1 ? 10 : 1)
            let mainWords = NumberWords.spoken(whole, nil, maxDigits: maxDigits) + " " + (main == 1 ? singular : plural)
            let centWords = NumberWords.cardinal(cents) + " " + (cents == 1 ? subunit.singular : subunit.plural)
            if cents == 0 { return whole.isEmpty ? "zero " + plural : mainWords }
            if main == 0 { return centWords }
            return mainWords + " and " + centWords
        }
    }
}

// MARK: - Number words

extension TextNormalizer {
    fileprivate enum NumberWords {
        /// Longer digit strings are read digit by digit.
        static let maxDigits = 15

        static let ones = [
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
            "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
        ]
        static let tens = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
        static let scales = ["", "thousand", "million", "billion", "trillion"]
        static let months = [
            "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
            "November", "December",
        ]
        static let irregularOrdinals = [
            "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
            "twelve": "twelfth",
        ]
        static let denominators = [
            2: ("half", "halves"), 3: ("third", "thirds"), 4: ("quarter", "quarters"), 5: ("fifth", "fifths"),
            6: ("sixth", "sixths"), 7: ("seventh", "sevenths"), 8: ("eighth", "eighths"), 9: ("ninth", "ninths"),
            10: ("tenth", "tenths"),
        ]

        /// The value of at most `maxDigits` ASCII digits.
        static func value(_ digits: some Collection<Character>) -> UInt64 {
            var result: UInt64 = 0
            for digit in digits.prefix(maxDigits) { result = result * 10 + UInt64(digit.asciiValue! - 48) }
            return result
        }

        static func digits(_ digits: some Collection<Character>) -> String {
            digits.map { ones[Int($0.asciiValue! - 48)] }.joined(separator: " ")
        }

        static func cardinal(_ value: UInt64) -> String {
            if value == 0 { return "zero" }
            var groups: [Int] = []
            var rest = value
            while rest > 0 {
                groups.append(Int(rest % 1000))
                rest /= 1000
            }
            guard groups.count <= scales.count else { return digits(String(value)) }
            var parts: [String] = []
            for (scale, group) in groups.enumerated().reversed() where group > 0 {
                parts.append(underThousand(group))
                if scale > 0 { parts.append(scales[scale]) }
            }
            return parts.joined(separator: " ")
        }

        static func underThousand(_ value: Int) -> String {
            var parts: [String] = []
            if value >= 100 { parts.append(ones[value / 100] + " hundred") }
            let rest = value % 100
            if rest > 0 { parts.append(underHundred(rest)) }
            return parts.joined(separator: " ")
        }

        static func underHundred(_ value: Int) -> String {
            if value < 20 { return ones[value] }
            return tens[value / 10] + (value % 10 > 0 ? "-" + ones[value % 10] : "")
        }

        /// A number as read: "three point one four", "zero zero seven", "point five".
        static func spoken(_ whole: [Character], _ fraction: [Character]?, maxDigits: Int) -> String {
            var words: String
            if whole.isEmpty {
                words = ""
            } else if whole.count > 1, whole[0] == "0" {
                words = digits(whole.prefix(maxDigits))
            } else {
                words = cardinal(value(whole))
            }
            if let fraction {
                words += (words.isEmpty ? "" : " ") + "point " + digits(fraction.prefix(maxDigits))
            }
            return words
        }

        /// Replaces the last word: "twenty-one" → "twenty-first", "one hundred" → "one hundredth".
        static func ordinal(_ words: String) -> String {
            let cut = words.lastIndex(where: { $0 == " " || $0 == "-" }).map { words.index(after: $0) } ?? words.startIndex
            let last = String(words[cut...])
            let ordinal: String
            if let irregular = irregularOrdinals[last] {
                ordinal = irregular
            } else if last.hasSuffix("y") {
                ordinal = String(last.dropLast()) + "ieth"
            } else {
                ordinal = last + "th"
            }
            return String(words[..<cut]) + ordinal
        }

        /// "nineteen ninety" → "nineteen nineties", "six" → "sixes".
        static func plural(_ words: String) -> String {
            if words.hasSuffix("y") { return String(words.dropLast()) + "ies" }
            if words.hasSuffix("x") { return words + "es" }
            return words + "s"
        }

        /// Years read in pairs: 1100–1999 and 2010–2099 ("nineteen eighty-four").
        static func year(_ year: Int) -> String? {
            guard (1100...1999).contains(year) || (2010...2099).contains(year) else { return nil }
            let high = underHundred(year / 100)
            let low = year % 100
            if low == 0 { return high + " hundred" }
            if low < 10 { return high + " oh " + ones[low] }
            return high + " " + underHundred(low)
        }

        /// "three thirty", "ten oh five pee em", "three o'clock", "fourteen hundred".
        static func clock(hours: Int, minutes: Int, meridiem: String?) -> String {
            var words = cardinal(UInt64(hours))
            if minutes == 0 {
                if meridiem == nil { words += hours <= 12 ? " o'clock" : " hundred" }
            } else if minutes < 10 {
                words += " oh " + ones[minutes]
            } else {
                words += " " + underHundred(minutes)
            }
            if let meridiem { words += " " + meridiem }
            return words
        }

        /// "1:30:45" → "one hour thirty minutes forty-five seconds".
        static func duration(hours: Int, minutes: Int, seconds: Int) -> String {
            var parts: [String] = []
            for (value, singular) in [(hours, "hour"), (minutes, "minute"), (seconds, "second")] where value > 0 {
                parts.append(cardinal(UInt64(value)) + " " + singular + (value == 1 ? "" : "s"))
            }
            return parts.isEmpty ? "zero seconds" : parts.joined(separator: " ")
        }

        /// "December twenty-fifth twenty twenty-four", or nil if not a valid date.
        static func date(month: Int, day: Int, year: some Collection<Character>) -> String? {
            guard (1...12).contains(month), (1...31).contains(day) else { return nil }
            let yearValue = Int(value(year))
            let yearWords: String
            if year.count == 2 {
                yearWords = yearValue < 10 ? "oh " + ones[yearValue] : underHundred(yearValue)
            } else {
                yearWords = self.year(yearValue) ?? cardinal(UInt64(yearValue))
            }
            return months[month - 1] + " " + ordinal(cardinal(UInt64(day))) + " " + yearWords
        }

        /// "one half", "three quarters", "twenty-four seven", "nine slash eleven".
        static func fraction(_ numerator: Int, _ denominator: Int) -> String {
            let top = cardinal(UInt64(numerator))
            if numerator == 24, denominator == 7 { return "twenty-four seven" }
            if let names = denominators[denominator], (1...99).contains(numerator) {
                return top + " " + (numerator == 1 ? names.0 : names.1)
            }
            return top + " slash " + cardinal(UInt64(denominator))
        }
    }
}
