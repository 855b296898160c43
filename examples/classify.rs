//! The shortest useful program: classify one image with the default model.
//!
//! `cargo run --release --example classify -- photo.jpg`

use std::process::ExitCode;

use mobilenet_wgpu::{hub, model::Model, preprocess, runtime::Runtime, Error};

fn main() -> ExitCode {
    match classify() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn classify() -> Result<(), Error> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or_else(|| Error::InvalidArgument("usage: classify <image>".into()))?;
    let image = preprocess::load_image(path.as_ref())?;
    let model = Model::load(hub::DEFAULT_MODEL)?;
    let session = Runtime::new()?.session(&model, 1)?;
    for class in &session.classify(&[image.into()], 5)?[0] {
        println!("{:5.1}%  {}", class.probability * 100.0, class.label);
    }
    Ok(())
}
