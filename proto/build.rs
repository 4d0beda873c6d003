//! Compiles `axle/v1/axle.proto` with protox, a pure-Rust protobuf compiler,
//! so that building axle needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "axle/v1/axle.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["."])?;
    // For the daemon's server reflection: clients discover the API without the .proto file.
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("axle_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
