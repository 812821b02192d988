// swift-tools-version:6.0
// swiftsoftmax: softmax, its family, derivatives and cross-entropy, exported as a Swift library
// (SwiftSoftmax) and as a self-contained C library (libswiftsoftmax.so).
import Foundation
import PackageDescription

// Two builds (docs/design.md, "Builds"). SwiftPM refuses unsafe flags in a package that another
// depends on by version, so what a dependent sees is the portable build: the tier that needs no
// -target-cpu (baseline), optimised with -O. `SWIFTSOFTMAX_TIERED=1`, which the Makefile and
// python/setup.py set, makes the tiered build: every tier of the table for its own CPU,
// -Ounchecked, and a shared library that carries the Swift runtime.
let tiered = Context.environment["SWIFTSOFTMAX_TIERED"] == "1"

// Kernels are pure arithmetic over raw pointers; bounds are established once by the API layer.
let kernelFlags: [SwiftSetting] = tiered ? [.unsafeFlags(["-Ounchecked"])] : []

// The CPU tiers come from one table, Sources/Tiers/tiers.def (docs/design.md, "CPU tiers").
// Swift has no per-function target attributes, so the kernel sources are compiled once per
// tier: Sources/Tiers/<name> links to Sources/SoftmaxKernels and becomes the target
// SoftmaxKernels_<name>, compiled for the row's target CPU. The API picks one tier at load time.
struct Tier { let name, arch, cpu: String; let features: [String] }
let tierTable = Context.packageDirectory + "/Sources/Tiers/tiers.def"
// When SwiftPM resolves a version dependency, it evaluates this manifest away from the package's
// files (packageDirectory "/"), only for its dependencies: there, an unreadable table is no error.
let tierTableText: String? = try? String(contentsOfFile: tierTable, encoding: .utf8)
precondition(tierTableText != nil || Context.packageDirectory == "/", "\(tierTable) cannot be read")
let tiers: [Tier] = (tierTableText ?? "")
    .split(separator: "\n").filter { $0.hasPrefix("SSM_TIER(") }
    .map { line in
        // SSM_TIER(name, arch, "target cpu", "feature feature ...")
        let fields = line.dropFirst("SSM_TIER(".count).dropLast().split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        precondition(fields.count == 4, "\(tierTable): a row needs 4 fields: \(line)")
        return Tier(name: fields[0], arch: fields[1], cpu: fields[2], features: fields[3].split(separator: " ").map(String.init))
    }
#if arch(x86_64)
let hostArch = "x86_64"
#elseif arch(arm64)
let hostArch = "aarch64"
#else
let hostArch = "other"
#endif
let builtTiers = tiers.filter { ($0.arch == "any" || $0.arch == hostArch) && (tiered || $0.cpu.isEmpty) }
let tierTargets: [Target] = builtTiers.map { t in
    .target(
        name: "SoftmaxKernels_\(t.name)", dependencies: ["SoftmaxCore", "SoftmaxScalarKernels", "CSoftmaxSupport"],
        path: "Sources/Tiers/\(t.name)",
        swiftSettings: kernelFlags + (t.cpu.isEmpty ? [] : [.unsafeFlags(["-target-cpu", t.cpu])])
            // Each feature also becomes a compilation condition, SSM_<FEATURE> (SSM_FMA, SSM_AVX512F…),
            // which selects the paths that need it.
            + t.features.map { .define("SSM_" + $0.uppercased()) })
}
let tierDependencies: [Target.Dependency] = builtTiers.map { .target(name: "SoftmaxKernels_\($0.name)") }

// The tiered libswiftsoftmax.so carries its own copy of the Swift runtime (-static-stdlib), so
// that C and Python programs need no libswift*; a Swift program has the runtime already.
// `SWIFTSOFTMAX_SANITIZE=1` (set by `make fuzz`) links the runtime dynamically instead: a Swift
// host process (the libFuzzer harness) must share one runtime with the library.
let staticStdlib: [LinkerSetting] =
    !tiered || Context.environment["SWIFTSOFTMAX_SANITIZE"] == "1" ? [] : [.unsafeFlags(["-static-stdlib"])]

let package = Package(
    name: "swiftsoftmax",
    products: [
        .library(name: "SwiftSoftmax", targets: ["SwiftSoftmax"]),
        .library(name: "swiftsoftmax", type: .dynamic, targets: ["SwiftSoftmaxCABI"]),
    ],
    targets: [
        // Per-call thread-local error text, the worker pool and CPU feature detection (which
        // includes the tier table): the things C does best.
        .target(name: "CSoftmaxSupport", cSettings: tiered ? [] : [.define("SSM_PORTABLE_BUILD")]),
        // Compiled once: the scalar protocol, error-free arithmetic and sums, the kernel-set
        // protocol and the per-sample cross-entropy arithmetic every path shares.
        .target(name: "SoftmaxCore", swiftSettings: kernelFlags),
        // Compiled once: the scalar code the library ships (slice passes, one-hot).
        .target(name: "SoftmaxScalarKernels", dependencies: ["SoftmaxCore"], swiftSettings: kernelFlags),
        // Compiled once, linked by the tests only: the oracle the tiers' kernels are tested against
        // (softmax, logsumexp, the VJPs, sigmoid, normalize, the Jacobian).
        .target(name: "SoftmaxReference", dependencies: ["SoftmaxCore", "SoftmaxScalarKernels"], swiftSettings: kernelFlags),
        // Public Swift API: shapes, validation, special values, threading, tier dispatch.
        .target(
            name: "SwiftSoftmax",
            dependencies: ["SoftmaxCore", "SoftmaxScalarKernels", "CSoftmaxSupport"] + tierDependencies),
        // The C ABI: @_cdecl shims that translate pointers and errors, nothing else.
        .target(
            name: "SwiftSoftmaxCABI",
            dependencies: ["SwiftSoftmax", "CSoftmaxSupport"],
            linkerSettings: staticStdlib),
        .testTarget(
            name: "SwiftSoftmaxTests",
            dependencies: ["SwiftSoftmax", "SoftmaxCore", "SoftmaxReference"] + tierDependencies,
            swiftSettings: tiered ? [.define("SSM_TIERED_BUILD")] : []),
    ] + tierTargets
)
