import CSoftmaxSupport
import SoftmaxCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The kernel tier in use: the best one the CPU runs, chosen once at load time, unless the
/// environment variable `SWIFTSOFTMAX_ISA` names another.
///
/// The tiers are the rows of the tier table, `Sources/Tiers/tiers.def`, built for this
/// architecture; the C detection reads that table and reports which rows the CPU runs, and each
/// row's kernels are the module `SoftmaxKernels_<name>` (docs/design.md, "CPU tiers").
public enum Tier {
    /// One row of the tier table as this build and this CPU see it.
    struct Row {
        let name: String
        /// The row's kernels, or nil when no module `SoftmaxKernels_<name>` is linked in.
        let kernels: (any SoftmaxKernelSet.Type)?
        /// 1: the CPU runs it; 0: it does not; -1: the row names a feature the detection lacks.
        let runs: Int32
    }

    /// The tiers compiled into this build, slowest first.
    nonisolated(unsafe) static let compiled: [Row] = (0..<ssm_support_tier_count()).map { i in
        let name = String(cString: ssm_support_tier_name(i))
        // Package.swift makes every row a target SoftmaxKernels_<name> whose `Kernels` type
        // conforms to SoftmaxKernelSet; looking the type up by name keeps the table the only list.
        // The mangled name of the enum <module>.Kernels: <length><module>7KernelsO.
        let module = "SoftmaxKernels_\(name)"
        let kernels = _typeByName("\(module.utf8.count)\(module)7KernelsO") as? any SoftmaxKernelSet.Type
        return Row(name: name, kernels: kernels, runs: ssm_support_tier_runs(i))
    }

    /// Rows of the table this build cannot use: no kernels linked in, or a CPU feature the
    /// detection does not know. Empty in a correct build (the tests check it).
    public static var brokenRows: [String] {
        compiled.compactMap { r in
            if r.kernels == nil { return "\(r.name): no module SoftmaxKernels_\(r.name) is linked in" }
            if r.runs < 0 { return "\(r.name): names a CPU feature the detection (cpu_tier.c) does not know" }
            return nil
        }
    }

    private static var usable: [Row] { compiled.filter { $0.runs == 1 && $0.kernels != nil } }

    nonisolated(unsafe) private static let choice: (row: Row, problem: String?) = choose()

    static var kernels: any SoftmaxKernelSet.Type { choice.row.kernels! }

    /// The tier's name: a row of the tier table, such as "baseline", "avx2" or "avx512".
    public static var name: String { choice.row.name }

    /// Why `SWIFTSOFTMAX_ISA` could not be honoured, or nil. The library then runs the best
    /// tier the CPU has; the Python package refuses to import with this message.
    public static var problem: String? { choice.problem }

    /// The names of the tiers this CPU can run, slowest first.
    public static var available: [String] { usable.map(\.name) }

    /// The names of the tiers compiled into this build, slowest first.
    public static var names: [String] { compiled.map(\.name) }

    private static func choose() -> (Row, String?) {
        let usable = usable
        guard let best = usable.last else {
            fatalError("swiftsoftmax: no usable CPU tier (\(brokenRows.joined(separator: "; ")))")
        }
        guard let raw = getenv("SWIFTSOFTMAX_ISA"), raw.pointee != 0 else { return (best, nil) }
        let wanted = String(cString: raw).lowercased()
        if let t = usable.first(where: { $0.name == wanted }) { return (t, nil) }
        if names.contains(wanted) {
            return (best, "SWIFTSOFTMAX_ISA=\(wanted) but this CPU lacks it (it runs: \(available.joined(separator: ", ")))")
        }
        return (best, "SWIFTSOFTMAX_ISA=\(wanted) is not a tier of this build (choose from: \(names.joined(separator: ", ")))")
    }

    /// The kernels of the tier named `name`, when this CPU runs it (for the tests).
    public static func kernels(named name: String) -> (any SoftmaxKernelSet.Type)? {
        usable.first { $0.name == name }?.kernels
    }
}
