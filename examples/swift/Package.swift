// swift-tools-version:6.0
// A small Swift package that uses swiftsoftmax from this checkout (`swift run` here).
import PackageDescription

let package = Package(
    name: "SoftmaxExample",
    dependencies: [
        // The package identity of a path dependency is its directory name, which depends on where
        // the repository was cloned; `name:` pins it.
        .package(name: "swiftsoftmax", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "SoftmaxExample",
            dependencies: [.product(name: "SwiftSoftmax", package: "swiftsoftmax")]),
    ]
)
