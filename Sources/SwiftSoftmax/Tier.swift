import CSoftmaxSupport
import SoftmaxCore
import SoftmaxKernels
#if arch(x86_64)
import SoftmaxKernelsAVX2
import SoftmaxKernelsAVX512
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The kernel tier in use: the best one the CPU runs, chosen once at load time, unless the
/// environment variable `SWIFTSOFTMAX_ISA` (baseline, avx2, avx512) names another.
public enum Tier {
    /// The tiers compiled into this build, slowest first, with the cpuid level each needs.
    static var compiled: [(name: String, level: Int32, kernels: any SoftmaxKernelSet.Type)] {
        #if arch(x86_64)
        return [("baseline", 0, SoftmaxKernels.Kernels.self),
                ("avx2", 1, SoftmaxKernelsAVX2.Kernels.self),
                ("avx512", 2, SoftmaxKernelsAVX512.Kernels.self)]
        #else
        return [("baseline", 0, SoftmaxKernels.Kernels.self)]
        #endif
    }

    nonisolated(unsafe) private static let choice: (kernels: any SoftmaxKernelSet.Type, problem: String?) = choose()

    static var kernels: any SoftmaxKernelSet.Type { choice.kernels }

    /// The tier's name ("baseline", "avx2", "avx512").
    public static var name: String { choice.kernels.tier }

    /// Why `SWIFTSOFTMAX_ISA` could not be honoured, or nil. The library then runs the best
    /// tier the CPU has; the Python package refuses to import with this message.
    public static var problem: String? { choice.problem }

    /// The names of the tiers this CPU can run, slowest first.
    public static var available: [String] {
        let level = ssm_support_cpu_tier()
        return compiled.filter { $0.level <= level }.map(\.name)
    }

    private static func choose() -> (any SoftmaxKernelSet.Type, String?) {
        let level = ssm_support_cpu_tier()
        let usable = compiled.filter { $0.level <= level }
        let best = usable.last!.kernels
        guard let raw = getenv("SWIFTSOFTMAX_ISA"), raw.pointee != 0 else { return (best, nil) }
        let wanted = String(cString: raw).lowercased()
        if let t = usable.first(where: { $0.name == wanted }) { return (t.kernels, nil) }
        let names = compiled.map(\.name).joined(separator: ", ")
        if compiled.contains(where: { $0.name == wanted }) {
            return (best, "SWIFTSOFTMAX_ISA=\(wanted) but this CPU lacks it (it runs: \(usable.map(\.name).joined(separator: ", ")))")
        }
        return (best, "SWIFTSOFTMAX_ISA=\(wanted) is not a tier of this build (choose from: \(names))")
    }
}
