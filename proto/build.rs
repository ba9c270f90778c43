//! Compiles `proto/firstline/v1/*.proto` with the pure-Rust `protox` compiler, so a fresh
//! machine needs no `protoc` on its PATH.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/firstline/v1/firstline.proto"];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // `Telemetry.Connect` would clash with the generated `connect` constructor; clients are
        // built from a `Channel` instead.
        .build_transport(false)
        // prost's codec, with counts checked on the raw bytes before decoding (codec.rs).
        .codec_path("crate::codec::BoundedCodec")
        .compile_fds(descriptors)?;
    Ok(())
}
