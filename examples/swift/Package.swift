// swift-tools-version:6.0
// A small Swift package that depends on swiftsoftmax by version, as a user's package does
// (`swift run` here, after `make example-swift` has made the repository below).
import Foundation
import PackageDescription

// A user names the released package:
//     .package(url: "https://example.org/you/swiftsoftmax.git", from: "0.1.0")
// Here the URL is a git repository of this checkout, which `make example-swift` makes (this
// working tree, committed and tagged with the version of include/swiftsoftmax.h) and passes in
// SWIFTSOFTMAX_GIT_URL. A version dependency gets the portable build (docs/design.md, "Builds").
let swiftsoftmaxURL = ProcessInfo.processInfo.environment["SWIFTSOFTMAX_GIT_URL"]
    ?? Context.packageDirectory + "/../../.build/example-dependency/swiftsoftmax"

let package = Package(
    name: "SoftmaxExample",
    dependencies: [
        .package(url: swiftsoftmaxURL, from: "0.1.0"),
    ],
    targets: [
        .executableTarget(
            name: "SoftmaxExample",
            dependencies: [.product(name: "SwiftSoftmax", package: "swiftsoftmax")]),
    ]
)
