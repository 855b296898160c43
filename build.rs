//! Compiles ONNX's protobuf schema into Rust types (`$OUT_DIR/onnx.rs`) with prost-build,
//! parsing the `.proto` with protox so that no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/onnx.proto3");
    let descriptors = protox::compile(["onnx.proto3"], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
