import DuplexCore
import Testing

@Suite struct TextNormalizerTests {
    @Test(arguments: [
        // Cardinals, decimals, ordinals, years and long digit strings
        ("1,234", "one thousand two hundred thirty-four"),
        ("-5", "minus five"),
        ("3.14", "three point one four"),
        ("1st 2nd 3rd 21st 100th", "first second third twenty-first one hundredth"),
        ("1984", "nineteen eighty-four"),
        ("2025", "twenty twenty-five"),
        ("2005", "two thousand five"),
        ("1900", "nineteen hundred"),
        ("1905", "nineteen oh five"),
        ("the 1990s", "the nineteen nineties"),
        ("0.5", "zero point five"),
        ("007", "zero zero seven"),
        ("1,000,000", "one million"),
        ("1234567890123456", "one two three four five six seven eight nine zero one two three four five six"),
        ("192.168.0.1", "one nine two dot one six eight dot zero dot one"),
        ("Version 2.0 is out.", "Version two point zero is out."),
        // Currency, percent, degrees, units
        ("$5", "five dollars"),
        ("$3.50", "three dollars and fifty cents"),
        ("$1", "one dollar"),
        ("€20", "twenty euros"),
        ("£1.50", "one pound and fifty pence"),
        ("$0.50", "fifty cents"),
        ("$2.5 million", "two point five million dollars"),
        ("$5M", "five million dollars"),
        ("-$5", "minus five dollars"),
        ("50¢", "fifty cents"),
        ("¥500", "five hundred yen"),
        ("50%", "fifty percent"),
        ("3.5%", "three point five percent"),
        ("20°C", "twenty degrees Celsius"),
        ("10km", "ten kilometers"),
        ("60 mph", "sixty miles per hour"),
        ("2x faster", "two times faster"),
        ("1920x1080", "one thousand nine hundred twenty by one thousand eighty"),
        // Times, dates, fractions, ranges
        ("3:30", "three thirty"),
        ("10:05 pm", "ten oh five pee em"),
        ("5pm", "five pee em"),
        ("7 a.m. Then we left.", "seven ay em. Then we left."),
        ("12:00", "twelve o'clock"),
        ("14:00", "fourteen hundred"),
        ("1:30:45", "one hour thirty minutes forty-five seconds"),
        ("16:9", "sixteen to nine"),
        ("2024-01-15", "January fifteenth twenty twenty-four"),
        ("12/25/2024", "December twenty-fifth twenty twenty-four"),
        ("3/4", "three quarters"),
        ("24/7", "twenty-four seven"),
        ("10-20", "ten to twenty"),
        ("10\u{2013}20", "ten to twenty"),
        ("555-123-4567", "five five five, one two three, four five six seven"),
        // Abbreviations: the period does not survive as a sentence end before a word
        ("Dr. Smith", "doctor Smith"),
        ("Mr. and Mrs. Jones", "mister and missus Jones"),
        ("St. Louis", "saint Louis"),
        ("Main St. is closed", "Main street is closed"),
        ("apples vs. oranges", "apples versus oranges"),
        ("fruit, e.g., apples", "fruit, for example, apples"),
        ("i.e. this", "that is this"),
        ("apples, pears, etc. Then more", "apples, pears, et cetera. Then more"),
        ("apples etc. and more", "apples et cetera and more"),
        ("I saw the Dr.", "I saw the doctor."),
        ("No. 5", "number five"),
        ("John F. Kennedy", "John F Kennedy"),
        ("a.k.a. Bob", "also known as Bob"),
        ("w/ cheese w/o onions", "with cheese without onions"),
        ("the U.S. is big", "the U S is big"),
        // Symbols
        ("A & B", "A and B"),
        ("@john", "at john"),
        ("1 + 1 = 2", "one plus one equals two"),
        ("#1", "number one"),
        ("C++", "C plus plus"),
        ("5 × 3", "five times three"),
        ("*bold* _x_ ~y~ a^b a|b a\\b <x> {y} [z]", "bold x y a b a b a b x y z"),
        ("Tom &amp; Jerry", "Tom and Jerry"),
        ("x = -5", "x equals minus five"),
        ("~5 mins", "about five minutes"),
        // URLs and emails
        ("https://example.com/path", "example dot com"),
        ("Visit www.google.com.", "Visit google dot com."),
        ("See https://docs.swift.org/swift-book/ now", "See docs dot swift dot org now"),
        ("user@example.com", "user at example dot com"),
        ("john.smith@mail.example.co.uk", "john dot smith at mail dot example dot co dot uk"),
        ("example.com/path?q=1", "example dot com"),
        // Emoji, invisible characters, whitespace, quotes, full-width forms
        ("Great job 🎉👍🏽", "Great job"),
        ("👨‍👩‍👧 family", "family"),
        ("1️⃣ First", "First"),
        ("❤️ love", "love"),
        ("\u{201C}Hi,\u{201D} she said", "Hi, she said"),
        ("don\u{2019}t", "don't"),
        ("\u{FF28}\u{FF45}\u{FF4C}\u{FF4C}\u{FF4F}\u{FF01}", "Hello!"),
        ("  hello   \n\t world  ", "hello world"),
        ("a\u{200B}b", "ab"),
        // Sentence punctuation is kept (and collapsed) for prosody
        ("Hello, world! How are you? Fine; thanks: ok.", "Hello, world! How are you? Fine; thanks: ok."),
        ("Wait... what?!", "Wait... what?"),
        ("Really!!!", "Really!"),
        ("Hello (world) there", "Hello, world, there"),
        ("(5%).", "five percent."),
        ("yes \u{2014} no", "yes, no"),
        ("- item one\n- item two", "item one, item two"),
        // Acronyms stay for espeak to spell; long all-caps words are shouting
        ("NASA and the FBI", "NASA and the FBI"),
        ("IMPORTANT NOTICE", "important notice"),
        // Empty
        ("", ""),
        ("   \n\t", ""),
    ])
    func normalizesTypedTextToSpeakableWords(input: String, expected: String) {
        #expect(TextNormalizer().normalize(input) == expected)
    }

    @Test(arguments: ["🎉", "👍🏽👍🏽", "👨‍👩‍👧", "🇺🇸", "❤️", " ✨ 🚀\u{FE0F} ", "1️⃣"])
    func emojiOnlyInputIsEmpty(input: String) {
        #expect(TextNormalizer().normalize(input) == "")
    }

    @Test func controlCharactersVanish() {
        let controls = (0..<32).map { Character(Unicode.Scalar(UInt8($0))) } + ["\u{7F}", "\u{85}"]
        let input = "Hello" + String(controls) + "world\u{0}\u{1B}\u{202E}\u{FEFF}"
        let output = TextNormalizer().normalize(input)
        #expect(output == "Hello world")
        #expect(!output.unicodeScalars.contains { $0.properties.generalCategory == .control })
    }

    @Test func veryLongWordsAreBounded() {
        let normalizer = TextNormalizer()
        #expect(normalizer.normalize(String(repeating: "a", count: 10_000)) == String(repeating: "a", count: 40))
        #expect(normalizer.normalize(String(repeating: "ab-", count: 3_000)).count <= 40)
        // Hashes and digit strings are read piece by piece, but only up to the bound.
        let hash = normalizer.normalize(String(repeating: "3f", count: 5_000))
        #expect(hash.split(separator: " ").count <= 40)
        let digits = normalizer.normalize(String(repeating: "7", count: 10_000))
        #expect(digits.split(separator: " ").count == 40)
        #expect(TextNormalizer(maxWordLength: 8).normalize("Hi " + String(repeating: "z", count: 10_000) + ".") == "Hi zzzzzzzz.")
    }

    @Test func outputNeverHasControlCharactersOrDoubleSpaces() {
        let normalizer = TextNormalizer()
        let input = "\u{0}Dr.\u{7}  Smith\r\n paid $3.50\t(50% off!) at https://example.com/a?b 🎉\u{200D}🎉 \u{1F}"
        let output = normalizer.normalize(input)
        #expect(output == "doctor Smith paid three dollars and fifty cents, fifty percent off! at example dot com")
        #expect(!output.unicodeScalars.contains { $0.properties.generalCategory == .control })
        #expect(!output.contains("  "))
    }
}
