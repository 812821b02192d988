import CSoftmaxSupport

/// Facts about this build of the library.
public enum BuildInfo {
    /// The library version (semantic versioning), "MAJOR.MINOR.PATCH": the C header's
    /// SSM_VERSION_* macros, where it is written once.
    ///
    /// ```swift
    /// print(BuildInfo.version)  // "0.1.0"
    /// ```
    public static let version = String(cString: ssm_support_version())

    /// The kernel tier in use, with the reason when SWIFTSOFTMAX_ISA could not be honoured:
    /// "avx2", or "avx2 (SWIFTSOFTMAX_ISA=avx512 but this CPU lacks it ...)".
    public static var isa: String {
        if let p = Tier.problem { return "\(Tier.name) (\(p))" }
        return Tier.name
    }
}
