import Foundation

/// A parsed `multipart/form-data` body (RFC 7578): fields by name, with their file name and
/// content type when they are files. Parsing works on the collected body, which the caller
/// has already bounded.
struct MultipartForm: Sendable {
    /// One part.
    struct Part: Sendable {
        var name: String
        var filename: String?
        var contentType: String?
        var data: Data
    }

    /// The parts, in order.
    var parts: [Part]

    /// The first part called `name`.
    func part(_ name: String) -> Part? { parts.first { $0.name == name } }

    /// A text field's value (nil when absent or not UTF-8).
    func text(_ name: String) -> String? {
        part(name).flatMap { String(data: $0.data, encoding: .utf8) }
    }

    /// The boundary of a `multipart/form-data; boundary=…` content type.
    static func boundary(contentType: String) -> String? {
        let pieces = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard pieces.first?.lowercased() == "multipart/form-data" else { return nil }
        for piece in pieces.dropFirst() where piece.lowercased().hasPrefix("boundary=") {
            var value = String(piece.dropFirst("boundary=".count))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty || value.count > 200 ? nil : value
        }
        return nil
    }

    /// Why a body is not valid multipart.
    struct Malformed: Error, Sendable {
        var reason: String
    }

    /// Parses a body.
    /// - Throws: ``Malformed`` naming what is wrong.
    static func parse(_ body: Data, boundary: String) throws(Malformed) -> MultipartForm {
        let delimiter = Data("--\(boundary)".utf8)
        let bytes = body
        guard var cursor = bytes.range(of: delimiter)?.upperBound else { throw Malformed(reason: "the boundary never appears") }
        var parts: [Part] = []
        let crlf = Data("\r\n".utf8)
        let headerEnd = Data("\r\n\r\n".utf8)
        let next = Data("\r\n--\(boundary)".utf8)
        while true {
            // After a delimiter: "--" ends the body, CRLF starts a part.
            if bytes[cursor...].starts(with: Data("--".utf8)) { break }
            guard bytes[cursor...].starts(with: crlf) else { throw Malformed(reason: "a boundary is not followed by a line break") }
            cursor += 2
            guard let headersRange = bytes.range(of: headerEnd, in: cursor..<bytes.endIndex) else {
                throw Malformed(reason: "a part's headers never end")
            }
            guard let headerText = String(data: bytes[cursor..<headersRange.lowerBound], encoding: .utf8) else {
                throw Malformed(reason: "a part's headers are not UTF-8")
            }
            let contentStart = headersRange.upperBound
            guard let end = bytes.range(of: next, in: contentStart..<bytes.endIndex) else {
                throw Malformed(reason: "the body ends inside a part (no closing boundary)")
            }
            var part = Part(name: "", filename: nil, contentType: nil, data: Data(bytes[contentStart..<end.lowerBound]))
            for line in headerText.components(separatedBy: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let field = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if field == "content-type" { part.contentType = value }
                if field == "content-disposition" {
                    part.name = parameter("name", in: value) ?? ""
                    part.filename = parameter("filename", in: value)
                }
            }
            guard !part.name.isEmpty else { throw Malformed(reason: "a part has no Content-Disposition name") }
            parts.append(part)
            cursor = end.upperBound
        }
        return MultipartForm(parts: parts)
    }

    private static func parameter(_ key: String, in header: String) -> String? {
        for piece in header.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard piece.lowercased().hasPrefix(key + "=") else { continue }
            var value = String(piece.dropFirst(key.count + 1))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }
}
