/// Why a call was refused. Every check runs before anything is written, so a caller that
/// catches this error finds its output buffers exactly as they were.
public struct SoftmaxError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A stable numeric code, shared with the C ABI's `enum ssm_status`.
    public enum Code: Int32, Sendable, CaseIterable {
        case nullPointer = 1
        case invalidShape = 2
        case invalidArgument = 3
        case labelOutOfRange = 4
        case overlappingBuffers = 5

        /// The fixed explanation of the code (what `ssm_status_message` returns).
        public var summary: String {
            switch self {
            case .nullPointer: return "a required pointer is null"
            case .invalidShape: return "invalid shape: a size is negative or the element count overflows"
            case .invalidArgument: return "invalid argument"
            case .labelOutOfRange: return "label out of range"
            case .overlappingBuffers: return "output buffer partially overlaps an input"
            }
        }
    }

    /// What kind of error (the C ABI's status code).
    public let code: Code
    /// Names the argument and says what was expected and what was given.
    public let message: String

    /// An error of kind `code` explained by `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
