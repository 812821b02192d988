/// The argument checks shared by every entry point. They run before any write.
enum Check {
    /// A pointer must be non-null unless the array it describes is empty.
    static func pointer(_ p: UnsafeRawPointer?, count: Int, _ name: String) throws(SoftmaxError) {
        if p == nil && count > 0 {
            throw SoftmaxError(.nullPointer, "\(name): null pointer for \(count) elements")
        }
    }

    /// An output may be exactly its input (in place) when `allowAlias`, but never overlap it partly.
    static func disjoint(
        _ out: UnsafeRawPointer?, _ outBytes: Int, _ outName: String,
        _ input: UnsafeRawPointer?, _ inBytes: Int, _ inName: String, allowAlias: Bool
    ) throws(SoftmaxError) {
        guard let out, let input, outBytes > 0, inBytes > 0 else { return }
        let a = UInt(bitPattern: out), b = UInt(bitPattern: input)
        if a == b && outBytes == inBytes && allowAlias { return }
        if a < b + UInt(inBytes) && b < a + UInt(outBytes) {
            let how = a == b && allowAlias ? "aliases" : "partially overlaps"
            throw SoftmaxError(.overlappingBuffers, "\(outName) \(how) \(inName)")
        }
    }

    static func temperature<T: SoftmaxScalar>(_ t: T) throws(SoftmaxError) {
        guard t.isFinite, t > 0 else {
            throw SoftmaxError(.invalidArgument, "temperature must be finite and > 0, got \(t)")
        }
    }
}
