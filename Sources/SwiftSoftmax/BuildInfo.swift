/// Facts about this build of the library.
public enum BuildInfo {
    /// The library version (semantic versioning); the C header's SSM_VERSION_* macros match it.
    public static let version = "0.1.0"

    /// The instruction-set tier the kernels run on.
    public static var isa: String {
        #if arch(x86_64)
        return "x86-64 (scalar)"
        #elseif arch(arm64)
        return "arm64 (scalar)"
        #else
        return "generic (scalar)"
        #endif
    }
}
