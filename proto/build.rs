//! Compiles `axle/v1/axle.proto` with protox, a pure-Rust protobuf compiler,
//! so that building axle needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "axle/v1/axle.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["."])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
