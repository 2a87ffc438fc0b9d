// swift-tools-version:6.0
// The Swift half of the `vectors` PostgreSQL extension and of the imgsearch tool.
// The C half (everything that includes PostgreSQL headers) lives in CShims/ and
// is built by the Makefile through PGXS; see docs/ARCHITECTURE.md.
import PackageDescription

/// Kernels compiled for a specific x86-64 micro-architecture level. The bodies
/// are the `@inlinable` generics of `VectorKernels`; inlining them into a
/// module built with `-target-cpu` is what makes the wider instructions appear.
func kernelLevel(_ name: String, cpu: String) -> Target {
    .target(
        name: name,
        dependencies: ["VectorKernels"],
        swiftSettings: [.unsafeFlags(["-target-cpu", cpu])]
    )
}

let package = Package(
    name: "vectors",
    products: [
        // Linked with CShims/*.o and the static Swift runtime into vectors.so.
        .library(name: "VectorsExtension", type: .static, targets: ["VectorsExtension"]),
        .library(name: "VectorCore", targets: ["VectorCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    ],
    targets: [
        .target(name: "CPUFeatures"),
        .target(name: "VectorKernels"),
        kernelLevel("VectorKernelsAVX2", cpu: "haswell"),
        kernelLevel("VectorKernelsAVX512", cpu: "skylake-avx512"),
        .target(
            name: "VectorCore",
            dependencies: ["VectorKernels", "VectorKernelsAVX2", "VectorKernelsAVX512", "CPUFeatures", "CVectorsShim"]
        ),
        // Graph algorithms, generic over where the graph is stored.
        .target(name: "HNSW", dependencies: ["VectorCore", "CVectorsShim"]),
        // The contract between Swift and the C shim: one header, no PostgreSQL types.
        .systemLibrary(name: "CVectorsShim", path: "CShims/include"),
        .target(name: "VectorsExtension", dependencies: ["VectorCore", "HNSW", "CVectorsShim"]),
        .executableTarget(name: "vectors-bench-kernels", dependencies: ["VectorCore"], path: "bench/kernels"),
        .executableTarget(name: "vectors-bench-build", dependencies: ["HNSW"], path: "bench/build"),
        .testTarget(name: "VectorCoreTests", dependencies: ["VectorCore", "VectorKernels"]),
        .testTarget(name: "HNSWTests", dependencies: ["HNSW"]),

        // CLIP: image/text embeddings without Python (docs/CLIP.md).
        // System libraries from Debian: libopenblas-dev, zlib1g-dev.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // libjpeg62-turbo-dev, libpng-dev, libwebp-dev: C because libjpeg/libpng longjmp on errors.
        .target(
            name: "CLIPImageCodecs",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("webp")]
        ),
        .target(name: "CLIP", dependencies: ["COpenBLAS", "CZlib", "CLIPImageCodecs"]),
        .testTarget(name: "CLIPTests", dependencies: ["CLIP"], resources: [.copy("Fixtures")]),

        // imgsearch: photo folders into PostgreSQL, searched by text or image (docs/IMGSEARCH.md).
        // libpq from libpq-dev; model downloads through FoundationNetworking (libcurl4).
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ"),
        .target(name: "ImageSearch", dependencies: ["CLIP", "CLibPQ"]),
        .testTarget(name: "ImageSearchTests", dependencies: ["ImageSearch"]),
        .executableTarget(
            name: "imgsearch",
            dependencies: ["CLIP", "ImageSearch", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "clip-bench", dependencies: ["CLIP", "COpenBLAS"], path: "bench/clip",
                          exclude: ["torch_bench.py", "report.py", "run.sh"]),
        .executableTarget(name: "imgsearch-bench", dependencies: ["CLIP", "ImageSearch"], path: "bench/imgsearch",
                          exclude: ["run.sh", "helper.py", "queries.txt"]),
    ]
)
