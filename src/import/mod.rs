//! Model-file front-ends.
