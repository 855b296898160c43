#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mobilenet_wgpu_fuzz::tflite(data));
