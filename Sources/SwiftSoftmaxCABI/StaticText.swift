import SwiftSoftmax

/// C strings that live as long as the library: made once (thread-safely, by swift_once), never
/// mutated or freed, hence safe to share although raw pointers are not Sendable.
enum StaticText {
    nonisolated(unsafe) static let version = make(BuildInfo.version)
    nonisolated(unsafe) static let isa = make(BuildInfo.isa)
    nonisolated(unsafe) static let availableISAs = make(Tier.available.joined(separator: " "))
    nonisolated(unsafe) static let ok = make("ok")
    nonisolated(unsafe) static let unknown = make("unknown status code")
    nonisolated(unsafe) static let codes: [Int32: UnsafePointer<CChar>] = Dictionary(
        uniqueKeysWithValues: SoftmaxError.Code.allCases.map { ($0.rawValue, make($0.summary)) })

    static func message(_ code: Int32) -> UnsafePointer<CChar> {
        if code == 0 { return ok }
        return codes[code] ?? unknown
    }

    private static func make(_ s: String) -> UnsafePointer<CChar> {
        let bytes = Array(s.utf8CString)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        p.initialize(from: bytes, count: bytes.count)
        return UnsafePointer(p)
    }
}
